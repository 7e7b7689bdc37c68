//! A practice's rules for automated portal invites (Open Dental's "Automated Patient Portal
//! Invites"): send N minutes **before** an appointment or N minutes **after** one is completed;
//! resend until the patient visits the portal, for every appointment, or when they have not
//! visited within some days; a subject and body with tags. Stored as one versioned item (a stale
//! version is a conflict, like settings); while any rule is on, the item is in the index the
//! scheduled run reads to find which practices to look at.

use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::ids::PracticeId;
use crate::ports::{Cond, Db, Item, TableError};
use crate::table_keys;
use crate::text::{is_plain_text, unknown_tag};
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The tags a template may use; `[URL]` (the portal link) is required in the body. `[URL]` and
/// `[PracticeName]` are the message notification's own tags, with the same meaning.
pub const TAGS: [&str; 8] = ["[NameF]", "[PracticeName]", "[OfficePhone]", "[ApptDate]", "[ApptTime]", "[UserName]", "[Password]", "[URL]"];
/// Earlier names of two tags (Open Dental's), still filled in rules saved with them.
const OLD_NAMES: [(&str, &str); 2] = [("[OfficeName]", "[PracticeName]"), ("[PatientPortalURL]", "[URL]")];
pub const MAX_RULES: usize = 6;
/// The longest offset: 90 days.
pub const MAX_OFFSET_MINUTES: u32 = 90 * 24 * 60;
const SUBJECT_MAX: usize = 150;
/// Six rules of this many characters stay within the API's 64 KB body limit, in any script.
const BODY_MAX: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleKind {
    /// N minutes before a scheduled appointment.
    Before,
    /// N minutes after an appointment was completed (its end).
    After,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Resend {
    /// Invite until the patient has visited the portal once.
    UntilVisited,
    /// Invite for every appointment.
    EveryAppointment,
    /// Invite when the patient has not visited within `resendDays`.
    NoVisitWithin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteRule {
    pub id: String,
    pub kind: RuleKind,
    pub offset_minutes: u32,
    pub resend: Resend,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resend_days: Option<u32>,
    pub subject: String,
    pub body: String,
    /// The same two for patients whose preferred language is Spanish (the same rules).
    #[serde(default = "subject_es")]
    pub subject_es: String,
    #[serde(default = "body_es")]
    pub body_es: String,
    pub enabled: bool,
}

fn subject_es() -> String {
    crate::language::INVITE_SUBJECT_ES.into()
}

fn body_es() -> String {
    crate::language::INVITE_BODY_ES.into()
}

impl InviteRule {
    /// The invite's subject and body template in `lang`.
    pub fn template(&self, lang: crate::language::Language) -> (&str, &str) {
        match lang {
            crate::language::Language::En => (&self.subject, &self.body),
            crate::language::Language::Es => (&self.subject_es, &self.body_es),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteRules {
    pub rules: Vec<InviteRule>,
    /// `[OfficePhone]` in the templates.
    #[serde(default)]
    pub office_phone: String,
    /// 0 until first saved (the defaults).
    #[serde(default)]
    pub version: u64,
}

const DEFAULT_BODY: &str = "Dear [NameF],\n\n[PracticeName] invites you to our patient portal, where you can see your appointments, \
your balance and your treatment plans, and send us secure messages.\n\nYour appointment: [ApptDate] at [ApptTime].\n\n\
Log in at [URL]\nUsername: [UserName]\nTemporary password: [Password] (you will choose your own at first login)\n\n\
Questions? Call us at [OfficePhone].";

impl InviteRules {
    /// Open Dental's defaults: 7 days before, 1 hour after; off until the practice turns them on.
    pub fn defaults() -> Self {
        let rule = |id: &str, kind, offset_minutes| InviteRule {
            id: id.into(),
            kind,
            offset_minutes,
            resend: Resend::UntilVisited,
            resend_days: None,
            subject: "Your patient portal at [PracticeName]".into(),
            body: DEFAULT_BODY.into(),
            subject_es: subject_es(),
            body_es: body_es(),
            enabled: false,
        };
        InviteRules {
            rules: vec![rule("before-7d", RuleKind::Before, 7 * 24 * 60), rule("after-1h", RuleKind::After, 60)],
            office_phone: String::new(),
            version: 0,
        }
    }

    pub fn any_enabled(&self) -> bool {
        self.rules.iter().any(|r| r.enabled)
    }
}

/// Checks rules as staff submitted them; answers them trimmed.
pub fn check(rules: &[InviteRule], office_phone: &str) -> CoreResult<(Vec<InviteRule>, String)> {
    if rules.len() > MAX_RULES {
        return Err(CoreError::invalid(ProblemCode::InviteRuleInvalid, format!("At most {MAX_RULES} rules.")));
    }
    let phone = check_phone(office_phone)?;
    let mut out = Vec::with_capacity(rules.len());
    for (n, r) in rules.iter().enumerate() {
        let which = format!("Rule {}", n + 1);
        let id_ok = (1..=40).contains(&r.id.len()) && r.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok || rules[..n].iter().any(|o| o.id == r.id) {
            return Err(CoreError::invalid(
                ProblemCode::InviteRuleInvalid,
                format!("{which}: its id must be unique, 1–40 letters, digits, '-' or '_'."),
            ));
        }
        if r.offset_minutes == 0 || r.offset_minutes > MAX_OFFSET_MINUTES {
            return Err(CoreError::invalid(
                ProblemCode::InviteRuleInvalid,
                format!("{which}: the time must be between 1 minute and 90 days."),
            ));
        }
        let resend_days = match (r.resend, r.resend_days) {
            (Resend::NoVisitWithin, Some(d)) if (1..=3650).contains(&d) => Some(d),
            (Resend::NoVisitWithin, _) => {
                return Err(CoreError::invalid(
                    ProblemCode::InviteRuleInvalid,
                    format!("{which}: \"no visit within\" needs a number of days from 1 to 3650."),
                ))
            }
            (_, _) => None,
        };
        let (subject, body) = check_template(&r.subject, &r.body, &which)?;
        let (subject_es, body_es) = check_template(&r.subject_es, &r.body_es, &format!("{which} (Spanish)"))?;
        out.push(InviteRule { id: r.id.clone(), subject, body, subject_es, body_es, resend_days, ..r.clone() });
    }
    Ok((out, phone.into()))
}

/// The `[OfficePhone]` as staff typed it, trimmed.
pub fn check_phone(office_phone: &str) -> CoreResult<&str> {
    let phone = office_phone.trim();
    if phone.chars().count() > 40 || !is_plain_text(phone, false) {
        return Err(CoreError::invalid(ProblemCode::InviteRuleInvalid, "The office phone is one line of at most 40 characters."));
    }
    Ok(phone)
}

/// One language's subject and body of a rule, checked; `which` names the rule in errors.
pub fn check_template(subject: &str, body: &str, which: &str) -> CoreResult<(String, String)> {
    let subject = subject.trim();
    if subject.is_empty() || subject.chars().count() > SUBJECT_MAX || !is_plain_text(subject, false) {
        return Err(CoreError::invalid(
            ProblemCode::SubjectInvalid,
            format!("{which}: the subject must be one line of 1 to {SUBJECT_MAX} characters."),
        ));
    }
    let body = body.trim();
    if body.chars().count() > BODY_MAX || !is_plain_text(body, true) {
        return Err(CoreError::invalid(
            ProblemCode::BodyTooLong,
            format!("{which}: the body must be plain text of at most {BODY_MAX} characters."),
        ));
    }
    if !body.contains("[URL]") && !body.contains("[PatientPortalURL]") {
        return Err(CoreError::invalid(
            ProblemCode::BodyMissingUrl,
            format!("{which}: the body must contain [URL], where the portal link goes."),
        ));
    }
    let known: Vec<&str> = TAGS.iter().copied().chain(OLD_NAMES.iter().map(|(old, _)| *old)).collect();
    if let Some(tag) = unknown_tag(subject, &known).or_else(|| unknown_tag(body, &known)) {
        return Err(CoreError::invalid(ProblemCode::BodyUnknownTag, format!("{which}: {tag} is not a known tag; use {}.", TAGS.join(" "))));
    }
    Ok((subject.into(), body.into()))
}

/// What fills a template's tags.
pub struct TagValues<'a> {
    pub first_name: &'a str,
    pub office_name: &'a str,
    pub office_phone: &'a str,
    pub appt_date: &'a str,
    pub appt_time: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub portal_url: &'a str,
}

/// Fills a checked template (each tag once through the text: values are never re-scanned).
pub fn render(template: &str, v: &TagValues<'_>) -> String {
    let value = |tag: &str| match OLD_NAMES.iter().find(|(old, _)| *old == tag).map_or(tag, |(_, now)| now) {
        "[NameF]" => v.first_name,
        "[PracticeName]" => v.office_name,
        "[OfficePhone]" => v.office_phone,
        "[ApptDate]" => v.appt_date,
        "[ApptTime]" => v.appt_time,
        "[UserName]" => v.username,
        "[Password]" => v.password,
        "[URL]" => v.portal_url,
        _ => "",
    };
    let (mut out, mut rest) = (String::with_capacity(template.len() + 64), template);
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        match rest[open..].find(']') {
            Some(close)
                if TAGS.contains(&&rest[open..open + close + 1])
                    || OLD_NAMES.iter().any(|(old, _)| *old == &rest[open..open + close + 1]) =>
            {
                out.push_str(value(&rest[open..open + close + 1]));
                rest = &rest[open + close + 1..];
            }
            _ => {
                out.push('[');
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The index partition listing practices with at least one rule on (what the schedule reads).
pub const ENABLED_INDEX: &str = "INVITES#ENABLED";

pub struct InviteRulesRepo<'a> {
    pub db: Db<'a>,
}

impl InviteRulesRepo<'_> {
    /// The practice's rules, or the defaults (version 0) when never saved.
    pub async fn get(&self, practice: &PracticeId) -> CoreResult<InviteRules> {
        match self.db.table.get(&table_keys::practice(practice), table_keys::INVITE_RULES).await? {
            Some(item) => {
                let mut r: InviteRules = item.parse()?;
                r.version = item.version;
                Ok(r)
            }
            None => Ok(InviteRules::defaults()),
        }
    }

    /// Saves checked rules if the stored version is still `version`; audited with before/after.
    pub async fn put(&self, actor: &Actor, version: u64, rules: &[InviteRule], office_phone: &str) -> CoreResult<InviteRules> {
        let (rules, office_phone) = check(rules, office_phone)?;
        let practice = &actor.practice;
        let before = self.get(practice).await?;
        let next = InviteRules { rules, office_phone, version: version + 1 };
        let mut item =
            Item::new(table_keys::practice(practice), table_keys::INVITE_RULES, serde_json::to_value(&next).map_err(CoreError::backend)?)
                .with_version(version + 1);
        if next.any_enabled() {
            item = item.with_gsi1(ENABLED_INDEX, practice);
        }
        let cond = if version == 0 { Cond::Absent } else { Cond::Version(version) };
        match self.db.table.put(item, cond).await {
            Ok(()) => {}
            Err(TableError::ConditionFailed) => {
                let current = self.get(practice).await?;
                return Err(CoreError::Conflict {
                    code: ProblemCode::SettingsChanged,
                    detail: "Someone changed the invite rules meanwhile; here they are as saved.".into(),
                    current: Some(serde_json::to_value(current).map_err(CoreError::backend)?),
                });
            }
            Err(e) => return Err(e.into()),
        }
        let detail = json!({"before": before.rules.iter().map(|r| (&r.id, r.enabled)).collect::<Vec<_>>(),
            "after": next.rules.iter().map(|r| (&r.id, r.enabled)).collect::<Vec<_>>()});
        AuditLog { db: self.db }.record(actor, AuditAction::SettingsInvites, "settings", Outcome::Success, detail).await?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(body: &str) -> InviteRule {
        InviteRule { body: body.into(), ..InviteRules::defaults().rules[0].clone() }
    }

    #[test]
    fn templates_need_the_url_and_known_tags_only() {
        assert!(check(&[rule("Hi [NameF], see [URL]")], "").is_ok());
        assert!(check(&[rule("Hi [NameF] of [OfficeName], see [PatientPortalURL]")], "").is_ok(), "the earlier names still work");
        assert_eq!(check(&[rule("Hi [NameF]")], "").unwrap_err().code(), "body_missing_url");
        assert_eq!(check(&[rule("[URL] [Balance]")], "").unwrap_err().code(), "body_unknown_tag");
        let mut r = rule("[URL]");
        r.offset_minutes = 0;
        assert_eq!(check(&[r.clone()], "").unwrap_err().code(), "invite_rule_invalid");
        r.offset_minutes = 60;
        r.resend = Resend::NoVisitWithin;
        assert_eq!(check(&[r.clone()], "").unwrap_err().code(), "invite_rule_invalid");
        r.resend_days = Some(30);
        assert!(check(&[r.clone(), r.clone()], "").is_err(), "ids are unique");
        assert!(check(&InviteRules::defaults().rules, "555-0100").is_ok(), "the defaults pass their own rules");
    }

    #[test]
    fn render_fills_tags_once() {
        let v = TagValues {
            first_name: "[Password]",
            office_name: "Smile",
            office_phone: "",
            appt_date: "",
            appt_time: "",
            username: "sam1234",
            password: "abcd",
            portal_url: "https://p/",
        };
        assert_eq!(render("Hi [NameF] [x] [UserName] at [URL]", &v), "Hi [Password] [x] sam1234 at https://p/");
        assert_eq!(render("[OfficeName]: [PatientPortalURL]", &v), "Smile: https://p/", "the earlier names");
    }
}
