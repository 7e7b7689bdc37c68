//! A practice's portal settings: enabled features, portal URLs, WebMail notification settings,
//! family access and how to reach the office (phone, address, hours: public, shown to anyone at the
//! practice's address), in one item. Each of those five sections has its own version for optimistic
//! concurrency: two staff saving the same section at once, the second gets a conflict that carries
//! the values now stored; saving different sections at once both succeed (the item's own version
//! guards the write, and a lost race on another section is simply retried).

use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::ids::PracticeId;
use crate::ports::{Clock, Cond, Db, Item, Table};
use crate::practice::family::FamilyAccess;
use crate::practice::features::{self, Feature};
use crate::practice::url_policy::{parse_portal_url, UrlRules};
use crate::table_keys;
use crate::text::{check_email, is_plain_text};
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PortalUrls {
    /// Where patients go to use the portal; the `[URL]` of notification emails.
    pub patient_facing_url: Option<String>,
    /// The practice's own website, linked from the portal.
    pub practice_website_url: Option<String>,
}

/// The practice's own portal address, relative to the portal's site (`/p/lakeside/`): its login
/// page, named for it. It is the patient-facing URL until the practice sets another.
pub fn portal_path(practice: &crate::ids::PracticeId) -> String {
    format!("/p/{practice}/")
}

/// Where a practice's patients log in, as emails and printed logins give it: the practice's
/// patient-facing URL, else its own address on the portal's site (`site_url`; when that is not
/// known, the path on the site, `/p/{practice}/`).
pub fn login_url(settings: &PracticeSettings, practice: &PracticeId, site_url: &str) -> String {
    match &settings.urls.patient_facing_url {
        Some(u) if !u.is_empty() => u.clone(),
        _ => {
            let path = crate::ids::PracticeId::parse(practice).map(|p| portal_path(&p)).unwrap_or_else(|| "/".into());
            format!("{}{path}", site_url.trim_end_matches('/'))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WebMailSettings {
    /// The address notification emails come from.
    pub notification_sender: String,
    /// The office address told when a patient sends a message.
    pub default_notify_address: String,
    pub subject: String,
    /// Must contain `[URL]`; may contain `[PracticeName]`. Nothing else: a notification never
    /// carries the message or anything about the patient.
    pub body_template: String,
    /// The same two for patients whose preferred language is Spanish (the same rules).
    #[serde(default = "subject_es")]
    pub subject_es: String,
    #[serde(default = "body_template_es")]
    pub body_template_es: String,
}

fn subject_es() -> String {
    crate::language::WEBMAIL_SUBJECT_ES.into()
}

fn body_template_es() -> String {
    crate::language::WEBMAIL_BODY_ES.into()
}

impl WebMailSettings {
    /// The notification's subject and body template in `lang`.
    pub fn template(&self, lang: crate::language::Language) -> (&str, &str) {
        match lang {
            crate::language::Language::En => (&self.subject, &self.body_template),
            crate::language::Language::Es => (&self.subject_es, &self.body_template_es),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PracticeSettings {
    pub practice_name: String,
    pub features: Vec<Feature>,
    pub urls: PortalUrls,
    pub webmail: WebMailSettings,
    /// Whose data a guarantor sees (the family rule, `crate::practice::family`).
    #[serde(default)]
    pub family_access: FamilyAccess,
    #[serde(default)]
    pub contact: Contact,
    /// One version per section; a change sends back the version of the section it edits.
    #[serde(default)]
    pub versions: SectionVersions,
    /// The stored item's version (guards the write; not part of the API).
    #[serde(skip)]
    pub item_version: u64,
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub updated_by: String,
}

/// The version of each section (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SectionVersions {
    pub features: u64,
    pub urls: u64,
    pub webmail: u64,
    pub family_access: u64,
    pub contact: u64,
}

/// How patients reach the office: on every page of the practice's portal ("Contact us"), on
/// printed logins and wherever the portal tells a patient to call. Public: nothing about patients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Contact {
    /// As the office writes it, e.g. "(269) 555-0100".
    pub phone: String,
    /// Street, city, state and ZIP, one line each; a map link is made from it.
    pub address: String,
    /// Opening hours as the office writes them, one line per day or range.
    pub hours: String,
    /// Whether patients may ask online to cancel or reschedule an appointment (else they call).
    pub appointment_requests: bool,
}

impl Default for Contact {
    fn default() -> Self {
        Contact { phone: String::new(), address: String::new(), hours: String::new(), appointment_requests: true }
    }
}

const CONTACT_PHONE_MAX: usize = 40;
const CONTACT_TEXT_MAX: usize = 300;

/// A contact section checked: a phone of digits and the usual punctuation, plain text of sensible
/// length for the address and hours.
pub fn check_contact(c: &Contact) -> CoreResult<Contact> {
    let phone = c.phone.trim();
    let phone_ok = phone.chars().count() <= CONTACT_PHONE_MAX
        && phone.chars().all(|ch| ch.is_ascii_digit() || " ()+-.x".contains(ch))
        && (phone.is_empty() || phone.chars().filter(char::is_ascii_digit).count() >= 7);
    if !phone_ok {
        return Err(CoreError::invalid(
            ProblemCode::PhoneInvalid,
            "The phone number is digits with spaces, ( ) + - . or x for an extension: at least 7 digits.",
        ));
    }
    let (address, hours) = (c.address.trim(), c.hours.trim());
    for (value, what) in [(address, "address"), (hours, "hours")] {
        if value.chars().count() > CONTACT_TEXT_MAX || !is_plain_text(value, true) {
            return Err(CoreError::invalid(
                ProblemCode::TextInvalid,
                format!("The {what} is plain text of at most {CONTACT_TEXT_MAX} characters."),
            ));
        }
    }
    Ok(Contact { phone: phone.into(), address: address.into(), hours: hours.into(), appointment_requests: c.appointment_requests })
}

impl PracticeSettings {
    pub fn new(practice_name: &str, features: Vec<Feature>) -> Self {
        PracticeSettings {
            practice_name: practice_name.into(),
            features: features::normalize(features),
            urls: PortalUrls::default(),
            webmail: WebMailSettings {
                // No made-up addresses: the portal sends no email until staff say from where
                // (Setup asks), and tells the office nothing by email until it says where.
                notification_sender: String::new(),
                default_notify_address: String::new(),
                subject: "You have a new secure message".into(),
                body_template: "You have a new secure message from [PracticeName]. Log in to the patient portal to read it: [URL]".into(),
                subject_es: subject_es(),
                body_template_es: body_template_es(),
            },
            family_access: FamilyAccess::default(),
            contact: Contact::default(),
            versions: SectionVersions::default(),
            item_version: 0,
            updated_at: 0,
            updated_by: String::new(),
        }
    }

    pub fn has(&self, f: Feature) -> bool {
        self.features.contains(&f)
    }
}

pub const SUBJECT_MAX: usize = 200;
pub const BODY_MAX: usize = 4000;
pub const TEMPLATE_TAGS: [&str; 2] = ["[URL]", "[PracticeName]"];

/// Parses the feature keys a staff member submitted; unknown keys are an error, not dropped.
pub fn parse_features(keys: &[String]) -> CoreResult<Vec<Feature>> {
    keys.iter()
        .map(|k| {
            Feature::parse(k).ok_or_else(|| {
                CoreError::invalid(
                    ProblemCode::UnknownFeature,
                    format!("'{}' is not a portal feature; use one of {}.", truncate(k, 40), features::join(&Feature::ALL)),
                )
            })
        })
        .collect::<CoreResult<Vec<_>>>()
        .map(features::normalize)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

pub fn check_webmail(w: &WebMailSettings) -> CoreResult<WebMailSettings> {
    let (subject, body_template) = check_template(&w.subject, &w.body_template, "")?;
    let (subject_es, body_template_es) = check_template(&w.subject_es, &w.body_template_es, " (Spanish)")?;
    Ok(WebMailSettings {
        notification_sender: check_email(&w.notification_sender, "Notification sender")?,
        default_notify_address: check_email(&w.default_notify_address, "Default WebMail Notify address")?,
        subject,
        body_template,
        subject_es,
        body_template_es,
    })
}

/// One language's notification subject and body, checked; `which` names the language in errors.
fn check_template(subject: &str, body: &str, which: &str) -> CoreResult<(String, String)> {
    if !is_plain_text(subject, false) || !is_plain_text(body, true) {
        return Err(CoreError::invalid(
            ProblemCode::TextInvalid,
            format!("The subject and body{which} may not contain control characters or Unicode line separators."),
        ));
    }
    let subject = subject.trim();
    if subject.is_empty() || subject.chars().count() > SUBJECT_MAX {
        return Err(CoreError::invalid(
            ProblemCode::SubjectInvalid,
            format!("The notification subject{which} must be one line of 1 to {SUBJECT_MAX} characters."),
        ));
    }
    let body = body.trim();
    if body.chars().count() > BODY_MAX {
        return Err(CoreError::invalid(
            ProblemCode::BodyTooLong,
            format!("The notification body{which} must be at most {BODY_MAX} characters."),
        ));
    }
    if !body.contains("[URL]") {
        return Err(CoreError::invalid(
            ProblemCode::BodyMissingUrl,
            format!("The notification body{which} must contain [URL], where the portal link goes."),
        ));
    }
    if let Some(tag) = crate::text::unknown_tag(body, &TEMPLATE_TAGS) {
        return Err(CoreError::invalid(
            ProblemCode::BodyUnknownTag,
            format!(
                "{} is not a known tag{which}: use only [URL] and [PracticeName] (a notification never carries patient details).",
                truncate(tag, 40)
            ),
        ));
    }
    Ok((subject.into(), body.into()))
}

pub fn check_urls(u: &PortalUrls, rules: UrlRules) -> CoreResult<PortalUrls> {
    let one = |v: &Option<String>, field: &str| -> CoreResult<Option<String>> {
        match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => parse_portal_url(s, field, rules.local_mode).map(|u| Some(u.to_string())),
        }
    };
    Ok(PortalUrls {
        patient_facing_url: one(&u.patient_facing_url, "Patient-facing URL")?,
        practice_website_url: one(&u.practice_website_url, "Practice website URL")?,
    })
}

/// The notification sender must be at a domain the deployment may send from (its SES-verified
/// domains; on AWS the mail service refuses any other, so every notification would fail). An
/// empty list allows any (local mode).
pub fn check_sender_domain(sender: &str, mail_domains: &[String]) -> CoreResult<()> {
    let domain = sender.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
    if mail_domains.is_empty() || mail_domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
        return Ok(());
    }
    Err(CoreError::invalid(
        ProblemCode::SenderDomainNotAllowed,
        format!(
            "The portal can send mail only from an address at {}. Use one of those, or ask whoever runs the portal to add {} (it must be verified for sending first).",
            mail_domains.join(", "),
            truncate(&domain, 100)
        ),
    ))
}

/// Fills a notification template. Only the two known tags exist (see [`check_webmail`]).
pub fn render_notification(template: &str, practice_name: &str, url: &str) -> String {
    template.replace("[PracticeName]", practice_name).replace("[URL]", url)
}

// ---------------------------------------------------------------------------------------------
// Repository and use cases
// ---------------------------------------------------------------------------------------------

pub struct SettingsRepo<'a> {
    pub db: Db<'a>,
}

/// Which part of the settings a change touches.
pub enum Change {
    Features(Vec<Feature>),
    Urls(PortalUrls),
    WebMail(WebMailSettings),
    FamilyAccess(FamilyAccess),
    Contact(Contact),
}

impl<'a> SettingsRepo<'a> {
    pub async fn get(&self, practice: &PracticeId) -> CoreResult<Option<PracticeSettings>> {
        let Some(item) = self.db.table.get(&table_keys::practice(practice), table_keys::SETTINGS).await? else {
            return Ok(None);
        };
        let mut s: PracticeSettings = item.parse_kept()?;
        s.item_version = item.version;
        Ok(Some(s))
    }

    /// Creates the settings of a new practice; a conflict if it exists.
    pub async fn create(&self, practice: &PracticeId, settings: &PracticeSettings) -> CoreResult<()> {
        let item = settings_item(practice, settings, 1)?;
        self.db.table.put(item, Cond::Absent).await?;
        Ok(())
    }

    /// Applies a validated change if its section's stored version is still `expected_version`;
    /// audits it with the values before and after. On a conflict, the error carries the stored
    /// settings. A concurrent save of another section makes the write miss the item's version: the
    /// change is then re-applied to what is stored now (a few times at most). `mail_domains` are
    /// the domains the deployment may send mail from (empty: any, as locally).
    pub async fn change(
        &self,
        actor: &Actor,
        expected_version: u64,
        change: Change,
        rules: UrlRules,
        mail_domains: &[String],
    ) -> CoreResult<PracticeSettings> {
        let practice = &actor.practice;
        let change = change.validated(rules, mail_domains)?;
        for _ in 0..5 {
            let current = self.get(practice).await?.ok_or(CoreError::NotFound)?;
            if change.version_in(current.versions) != expected_version {
                return Err(conflict(&current));
            }
            let mut next = current.clone();
            let (action, before, after) = change.apply(&current, &mut next);
            *change.version_in_mut(&mut next.versions) = expected_version + 1;
            next.item_version = current.item_version + 1;
            next.updated_at = self.db.clock.now();
            next.updated_by = actor.id.clone();
            let item = settings_item(practice, &next, next.item_version)?;
            match self.db.table.put(item, Cond::Version(current.item_version)).await {
                Ok(()) => {}
                Err(crate::ports::TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
            let detail = json!({"before": before, "after": after, "version": expected_version + 1});
            AuditLog { db: self.db }.record(actor, action, "settings", Outcome::Success, detail).await?;
            return Ok(next);
        }
        let now_stored = self.get(practice).await?.ok_or(CoreError::NotFound)?;
        Err(conflict(&now_stored))
    }
}

/// The settings item, listed in the index of every practice (the audit seal run walks it).
fn settings_item(practice: &PracticeId, settings: &PracticeSettings, version: u64) -> CoreResult<Item> {
    let data = serde_json::to_value(settings).map_err(CoreError::backend)?;
    Ok(Item::new(table_keys::practice(practice), table_keys::SETTINGS, data)
        .with_version(version)
        .with_gsi1(table_keys::PRACTICES, practice))
}

impl Change {
    /// The change with its values checked and normalized (before any read: bad input costs nothing).
    fn validated(self, rules: UrlRules, mail_domains: &[String]) -> CoreResult<Change> {
        Ok(match self {
            Change::Features(f) => Change::Features(features::normalize(f)),
            Change::Urls(u) => Change::Urls(check_urls(&u, rules)?),
            Change::WebMail(w) => {
                let w = check_webmail(&w)?;
                check_sender_domain(&w.notification_sender, mail_domains)?;
                Change::WebMail(w)
            }
            Change::FamilyAccess(f) => Change::FamilyAccess(f),
            Change::Contact(c) => Change::Contact(check_contact(&c)?),
        })
    }

    fn version_in(&self, mut v: SectionVersions) -> u64 {
        *self.version_in_mut(&mut v)
    }

    fn version_in_mut<'v>(&self, v: &'v mut SectionVersions) -> &'v mut u64 {
        match self {
            Change::Features(_) => &mut v.features,
            Change::Urls(_) => &mut v.urls,
            Change::WebMail(_) => &mut v.webmail,
            Change::FamilyAccess(_) => &mut v.family_access,
            Change::Contact(_) => &mut v.contact,
        }
    }

    /// Writes the change into `next`; answers the audit action and the values before and after.
    fn apply(&self, current: &PracticeSettings, next: &mut PracticeSettings) -> (AuditAction, Value, Value) {
        match self {
            Change::Features(f) => {
                next.features = f.clone();
                (AuditAction::SettingsFeatures, json!(current.features), json!(next.features))
            }
            Change::Urls(u) => {
                next.urls = u.clone();
                (AuditAction::SettingsUrls, json!(current.urls), json!(next.urls))
            }
            Change::WebMail(w) => {
                next.webmail = w.clone();
                (AuditAction::SettingsWebmail, json!(current.webmail), json!(next.webmail))
            }
            Change::FamilyAccess(f) => {
                next.family_access = *f;
                (AuditAction::SettingsFamilyAccess, json!(current.family_access), json!(next.family_access))
            }
            Change::Contact(c) => {
                next.contact = c.clone();
                (AuditAction::SettingsContact, json!(current.contact), json!(next.contact))
            }
        }
    }
}

fn conflict(current: &PracticeSettings) -> CoreError {
    CoreError::Conflict {
        code: ProblemCode::SettingsChanged,
        detail: "Someone else saved this section first. Your changes are still in the form; the values now stored are shown beside them. Save again to replace them.".into(),
        current: serde_json::to_value(current).ok(),
    }
}

/// Settings kept in memory for at most `ttl_seconds` (the authorizer's container cache; 0 in local
/// mode, where a change must apply at once).
pub struct SettingsCache {
    ttl_seconds: i64,
    entries: Mutex<HashMap<String, (i64, Option<PracticeSettings>)>>,
}

impl SettingsCache {
    pub fn new(ttl_seconds: i64) -> Self {
        SettingsCache { ttl_seconds, entries: Mutex::new(HashMap::new()) }
    }

    pub async fn get(&self, table: &dyn Table, clock: &dyn Clock, practice: &PracticeId) -> CoreResult<Option<PracticeSettings>> {
        let now = clock.now();
        if self.ttl_seconds > 0 {
            if let Some((at, s)) = self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(practice.as_str()) {
                if now - at < self.ttl_seconds {
                    return Ok(s.clone());
                }
            }
        }
        let fresh = SettingsRepo { db: Db { table, clock } }.get(practice).await?;
        if self.ttl_seconds > 0 {
            self.entries.lock().unwrap_or_else(|e| e.into_inner()).insert(practice.to_string(), (now, fresh.clone()));
        }
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_url_prefers_the_practices_own_then_the_site_then_a_path() {
        let mut s = PracticeSettings::new("Smile", vec![]);
        let smile = PracticeId::parse("smile").unwrap();
        assert_eq!(login_url(&s, &smile, "https://portal.example.com/"), "https://portal.example.com/p/smile/");
        assert_eq!(login_url(&s, &smile, ""), "/p/smile/");
        s.urls.patient_facing_url = Some("https://smile.example/portal".into());
        assert_eq!(login_url(&s, &smile, ""), "https://smile.example/portal");
    }

    fn webmail(body: &str) -> WebMailSettings {
        WebMailSettings {
            notification_sender: "office@smile.example".into(),
            default_notify_address: "frontdesk@smile.example".into(),
            subject: "New message".into(),
            body_template: body.into(),
            subject_es: "Mensaje nuevo".into(),
            body_template_es: "Léalo en [URL]".into(),
        }
    }

    #[test]
    fn webmail_rules() {
        assert!(check_webmail(&webmail("Read it at [URL] - [PracticeName]")).is_ok());
        assert_eq!(check_webmail(&webmail("no link")).unwrap_err().code(), "body_missing_url");
        assert_eq!(check_webmail(&webmail("[URL] [NameF]")).unwrap_err().code(), "body_unknown_tag");
        let domains = ["smile.example".to_string(), "lakesidedental.com".to_string()];
        assert!(check_sender_domain("office@Smile.example", &domains).is_ok());
        assert!(check_sender_domain("office@gmail.com", &[]).is_ok(), "no list: any (local mode)");
        let refused = check_sender_domain("office@gmail.com", &domains).unwrap_err();
        assert_eq!(refused.code(), "sender_domain_not_allowed");
        assert!(refused.to_string().contains("smile.example, lakesidedental.com"), "{refused}");
        assert!(check_sender_domain("office@mail.smile.example", &domains).is_err(), "a subdomain is a domain of its own to SES");
        assert_eq!(check_webmail(&webmail(&format!("[URL]{}", "x".repeat(BODY_MAX)))).unwrap_err().code(), "body_too_long");
        let mut w = webmail("[URL]");
        w.notification_sender = "not-an-email".into();
        assert_eq!(check_webmail(&w).unwrap_err().code(), "email_invalid");
        w.notification_sender = "a@b.c\r\nBcc: x@y.z".into();
        assert_eq!(check_webmail(&w).unwrap_err().code(), "email_invalid");
        for bad_subject in ["two\nlines", "nul\0", "tab\tin subject"] {
            let mut w = webmail("[URL]");
            w.subject = bad_subject.into();
            assert_eq!(check_webmail(&w).unwrap_err().code(), "text_invalid", "{bad_subject:?}");
        }
        for bad_body in ["[URL]\0", "[URL]\u{b}", "[URL]\u{c}", "[URL]\u{85}", "[URL]\u{2028}", "[URL]\u{2029}"] {
            assert_eq!(check_webmail(&webmail(bad_body)).unwrap_err().code(), "text_invalid", "{bad_body:?}");
        }
        assert!(check_webmail(&webmail("Line one\r\nLine two\t[URL]")).is_ok());
    }

    #[test]
    fn features_parse_rejects_unknown() {
        assert_eq!(
            parse_features(&["ModuleWebMail".into(), "MakePayments".into()]).unwrap(),
            vec![Feature::MakePayments, Feature::ModuleWebMail]
        );
        assert_eq!(parse_features(&["ModuleWebmail".into()]).unwrap_err().code(), "unknown_feature");
    }

    #[test]
    fn urls_https_outside_local() {
        let u = PortalUrls { patient_facing_url: Some("http://portal.example.com".into()), practice_website_url: None };
        assert_eq!(check_urls(&u, UrlRules { local_mode: false }).unwrap_err().code(), "url_not_https");
        assert!(check_urls(&u, UrlRules { local_mode: true }).is_ok());
    }

    #[test]
    fn render() {
        assert_eq!(render_notification("[PracticeName]: [URL]", "Smile", "https://x"), "Smile: https://x");
    }
}
