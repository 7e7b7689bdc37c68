//! The demo practices, created on first start through the same provisioning code onboarding uses.
//! Two practices, so tenancy is visible; their logins go to `DIR/demo-logins.json`.

use crate::Backends;
use portal_core::identity::provision::Provisioner;
use portal_core::identity::session::StaffRole;
use portal_core::payments::setup::{PaymentSetups, SetupChange};
use portal_core::ports::ProcessorKind;
use portal_core::practice::features::Feature;
use portal_core::practice::settings::{Change, Contact, SettingsRepo, WebMailSettings};
use portal_core::practice::url_policy::UrlRules;
use portal_core::sync::signing::SyncKeys;
use portal_core::CoreError;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoStaff {
    pub username: String,
    pub password: String,
    pub totp_secret: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoPatient {
    pub patient_id: String,
    pub username: String,
    pub password: String,
    pub temporary: bool,
}

/// The practice system's credentials for the sync API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoSync {
    pub key_id: String,
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoPractice {
    pub practice_id: String,
    pub name: String,
    pub staff: DemoStaff,
    pub patients: Vec<DemoPatient>,
    pub sync: DemoSync,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoLogins {
    pub patient_page: String,
    pub admin_page: String,
    pub practices: Vec<DemoPractice>,
    /// The day the demo's data was dated from (`YYYY-MM-DD`); a later start on another day dates
    /// it afresh.
    #[serde(default)]
    pub dated_on: Option<String>,
}

struct Plan {
    data: fn(time::Date) -> crate::demo::DemoData,
    id: &'static str,
    name: &'static str,
    features: &'static [Feature],
    patients: &'static [(&'static str, &'static str, &'static str, bool)],
    /// Phone, address, hours: how patients reach the office.
    contact: (&'static str, &'static str, &'static str),
}

const PLANS: [Plan; 2] = [
    Plan {
        data: crate::demo::lakeside,
        id: "lakeside",
        name: "Lakeside Family Dental",
        features: &Feature::ALL,
        patients: &[
            ("pat-1001", "alex.morgan", "Alex Morgan", false),
            ("pat-1002", "sam.rivera", "Sam Rivera", true),
            ("pat-1003", "jamie.morgan", "Jamie Morgan", false),
        ],
        contact: ("(269) 555-0100", "120 Harbor Drive\nLakeside, MI 49116", "Monday to Thursday, 8 a.m. to 5 p.m.\nFriday, 8 a.m. to noon"),
    },
    Plan {
        data: crate::demo::hillcrest,
        id: "hillcrest",
        name: "Hillcrest Dental Care",
        features: &[Feature::ModuleAccount, Feature::ModuleWebMail, Feature::MakeAppointments, Feature::ModuleTreatmentPlan],
        patients: &[("pat-2001", "jordan.lee", "Jordan Lee", false), ("pat-2002", "casey.kim", "Casey Kim", true)],
        contact: ("(616) 555-0170", "8 Hillcrest Avenue, Suite 2\nGrand Rapids, MI 49503", "Monday to Friday, 7 a.m. to 4 p.m."),
    },
];

impl DemoLogins {
    pub fn banner(&self) -> String {
        let mut s = format!("\nAdmin page:   {}\n", self.admin_page);
        for p in &self.practices {
            let _ = write!(s, "\n{} (practice id: {})\n", p.name, p.practice_id);
            let _ = writeln!(s, "  patients open {}p/{}/ (the practice's own portal address)", self.patient_page, p.practice_id);
            let _ = writeln!(s, "  staff    {} / {}  TOTP secret {}", p.staff.username, p.staff.password, p.staff.totp_secret);
            let _ = writeln!(s, "  sync key {} (secret in demo-logins.json)", p.sync.key_id);
            for pat in &p.patients {
                let _ = writeln!(
                    s,
                    "  patient  {} / {}{}",
                    pat.username,
                    pat.password,
                    if pat.temporary { "  (temporary: must be changed at first login)" } else { "" }
                );
            }
        }
        s
    }
}

/// Seeds the demo on first start; later starts read the logins back. The demo's data is dated
/// from the day it is pushed (visits a week ahead, a recall due last week, a statement from five
/// days ago), so a later start on another day pushes it again dated from that day, as the
/// practice's system keeps sending its schedule: a demo seeded months ago still shows what it
/// describes instead of going quietly empty.
pub async fn ensure_demo(b: &Backends, data_dir: &Path, base_url: &str) -> Result<DemoLogins, Box<dyn std::error::Error>> {
    let file = data_dir.join("demo-logins.json");
    let today = time::OffsetDateTime::now_utc();
    if let Ok(raw) = std::fs::read_to_string(&file) {
        let mut logins: DemoLogins = serde_json::from_str(&raw)?;
        logins.patient_page = format!("{base_url}/");
        logins.admin_page = format!("{base_url}/admin/");
        if logins.dated_on.as_deref() != Some(&day(today)) {
            redate(b, &logins, today).await?;
            logins.dated_on = Some(day(today));
            crate::write_private(&file, serde_json::to_string_pretty(&logins)?.as_bytes())?;
        }
        return Ok(logins);
    }
    let p = Provisioner { db: b.db() };
    let functions = b.functions(std::path::PathBuf::new());
    let host = functions.hosts[0].clone();
    let app = crate::app(functions);
    let mut practices = vec![];
    for plan in &PLANS {
        let practice = portal_core::ids::PracticeId::parse(plan.id).ok_or(CoreError::NotFound)?;
        p.create_practice(&practice, plan.name, plan.features.to_vec()).await?;
        let staff = p.create_staff(&practice, "frontdesk", "Front Desk", StaffRole::Admin).await?;
        let mut patients = vec![];
        for &(id, username, name, temporary) in plan.patients {
            let login = p.create_patient_login(&practice, id, username, name, temporary).await?;
            patients.push(DemoPatient { patient_id: id.into(), username: login.username.to_string(), password: login.password, temporary });
        }
        let keys = SyncKeys { db: b.db(), secrets: b.secrets.as_ref() };
        let actor = portal_core::audit::Actor::new(&practice, portal_core::audit::ActorKind::Staff, &staff.principal_id, None);
        let (phone, address, hours) = plan.contact;
        let contact = Contact { phone: phone.into(), address: address.into(), hours: hours.into(), appointment_requests: true };
        let settings = SettingsRepo { db: b.db() };
        settings.change(&actor, 0, Change::Contact(contact), UrlRules { local_mode: true }, &[]).await?;
        // The demo's mail goes to files (`mail/`), so made-up addresses at the practice do.
        let current = settings.get(&practice).await?.ok_or(CoreError::NotFound)?;
        let webmail = WebMailSettings {
            notification_sender: format!("portal@{}.example", plan.id),
            default_notify_address: format!("frontdesk@{}.example", plan.id),
            ..current.webmail
        };
        settings.change(&actor, 0, Change::WebMail(webmail), UrlRules { local_mode: true }, &[]).await?;
        let (key, secret) = keys.create(&actor, "Demo practice server").await?;
        if plan.features.contains(&Feature::MakePayments) {
            // Payments go through the built-in test processor: the whole flow, no money moved.
            let processors = b.processors();
            let setups = PaymentSetups { db: b.db(), secrets: b.secrets.as_ref(), processors: &processors };
            let change = SetupChange {
                processor: ProcessorKind::Test,
                publishable_key: String::new(),
                secret_key: None,
                webhook_secret: None,
                limit_cents: portal_core::payments::setup::DEFAULT_LIMIT_CENTS,
                version: 0,
            };
            setups.save(&actor, change).await?;
        }
        // The demo data goes in as the practice's own system would send it: through the sync API.
        crate::demo::push(&app, &host, &key.key_id, &secret, (plan.data)(today.date()), today).await?;
        let releases = portal_core::code_systems::releases::location(&practice);
        for (path, bytes) in crate::demo::RELEASES {
            portal_core::ports::Blobs::put(b.blobs.as_ref(), &format!("{releases}{path}"), bytes.to_vec().into(), "text/plain").await?;
        }
        practices.push(DemoPractice {
            practice_id: plan.id.into(),
            sync: DemoSync { key_id: key.key_id, secret },
            name: plan.name.into(),
            staff: DemoStaff {
                username: staff.username.to_string(),
                password: staff.password,
                totp_secret: staff.totp_secret.unwrap_or_default(),
                role: StaffRole::Admin.as_str().into(),
            },
            patients,
        });
    }
    let logins = DemoLogins {
        patient_page: format!("{base_url}/"),
        admin_page: format!("{base_url}/admin/"),
        practices,
        dated_on: Some(day(today)),
    };
    crate::write_private(&file, serde_json::to_string_pretty(&logins)?.as_bytes())?;
    Ok(logins)
}

/// Pushes each demo practice's data again, dated from `today`, with the practice's sync key.
async fn redate(b: &Backends, logins: &DemoLogins, today: time::OffsetDateTime) -> Result<(), Box<dyn std::error::Error>> {
    let functions = b.functions(std::path::PathBuf::new());
    let host = functions.hosts[0].clone();
    let app = crate::app(functions);
    for practice in &logins.practices {
        let Some(plan) = PLANS.iter().find(|p| p.id == practice.practice_id) else { continue };
        crate::demo::push(&app, &host, &practice.sync.key_id, &practice.sync.secret, (plan.data)(today.date()), today)
            .await
            .map_err(|e| format!("the demo could not be dated from today ({e}); start with a fresh --data-dir"))?;
    }
    Ok(())
}

fn day(t: time::OffsetDateTime) -> String {
    t.date().to_string()
}
