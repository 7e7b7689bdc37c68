//! The family rule, written once: whose data a patient may see. Everyone sees themself; a
//! guardian sees the minors in their care; the guarantor sees the whole family when the practice's
//! `familyAccess` is `guarantor` (the default) and only themself when it is `self`. A member outside
//! the rule does not exist for the viewer: handlers answer 404, never 403.

use crate::ids::PracticeId;
use crate::sync::entities::Patient;
use crate::sync::records::{PatientRecords, Synced};
use crate::{CoreError, CoreResult};
use serde::{Deserialize, Serialize};

/// The practice setting that says what a guarantor sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FamilyAccess {
    /// The guarantor sees every member of the family whose account they hold.
    #[default]
    #[serde(rename = "guarantor")]
    Guarantor,
    /// Everyone sees only themself (and guardians their minors).
    #[serde(rename = "self")]
    SelfOnly,
}

impl FamilyAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            FamilyAccess::Guarantor => "guarantor",
            FamilyAccess::SelfOnly => "self",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "guarantor" => Some(FamilyAccess::Guarantor),
            "self" => Some(FamilyAccess::SelfOnly),
            _ => None,
        }
    }
}

/// A patient's id the family rule allowed for this request: the session's own patient (from the
/// authorizer's context, [`Viewer::new`]) or a member [`Family`] let through. Only this file makes
/// one, so a use case that takes it cannot be handed an id straight from a request:
///
/// ```
/// use portal_core::practice::family::{FamilyAccess, Viewer};
/// let me = Viewer::new("p-1", FamilyAccess::Guarantor); // what the authorizer's context says
/// assert_eq!(me.patient_id.as_str(), "p-1");
/// ```
/// ```compile_fail
/// // Not made from a string…
/// let id = portal_core::practice::family::PatientId("p-2".to_string());
/// ```
/// ```compile_fail
/// // …nor read from a request's body.
/// let id: portal_core::practice::family::PatientId = serde_json::from_str("\"p-2\"").unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PatientId(String);

impl PatientId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for PatientId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PatientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record's patient id compared with an allowed one (`thread.patient_id == patient_id`).
impl PartialEq<PatientId> for String {
    fn eq(&self, other: &PatientId) -> bool {
        *self == other.0
    }
}

/// The patient behind a session, and the practice's family setting (from the authorizer context).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub patient_id: PatientId,
    pub family_access: FamilyAccess,
}

impl Viewer {
    /// The session's patient, as the authorizer's context names them (never an id from the
    /// request: that goes through [`Family`]).
    pub fn new(patient_id: &str, family_access: FamilyAccess) -> Self {
        Viewer { patient_id: PatientId(patient_id.to_string()), family_access }
    }
}

/// How a member the viewer may see relates to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Relationship {
    /// The viewer themself.
    #[serde(rename = "self")]
    Own,
    /// A minor the viewer is a guardian of.
    Minor,
    /// A member of the family whose account the viewer holds.
    Family,
}

/// The rule: whether `viewer` may see `member` (whose id is `member_id`), and as what.
pub fn may_view(viewer: &Viewer, member_id: &str, member: &Patient) -> Option<Relationship> {
    if member_id == viewer.patient_id.as_str() {
        Some(Relationship::Own)
    } else if member.is_minor && member.guardians.iter().any(|g| g.patient_id == viewer.patient_id.as_str()) {
        Some(Relationship::Minor)
    } else if viewer.family_access == FamilyAccess::Guarantor && member.guarantor_id.as_deref() == Some(viewer.patient_id.as_str()) {
        Some(Relationship::Family)
    } else {
        None
    }
}

/// A member the viewer may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub patient_id: PatientId,
    pub name: String,
    pub relationship: Relationship,
    /// The language the practice's system recorded for them (the page's default for its own user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
}

pub struct Family<'a> {
    pub records: PatientRecords<'a>,
}

impl Family<'_> {
    /// The members `viewer` may see, themself first, then by name. Candidates are the viewer's
    /// family (one query on the family index) and anyone the viewer's record lists as family
    /// outside it (a guardian's minor on another account).
    pub async fn members(&self, practice: &PracticeId, viewer: &Viewer) -> CoreResult<Vec<Member>> {
        let Some(me) = self.records.get::<Patient>(practice, &viewer.patient_id).await? else {
            return Ok(vec![]);
        };
        let mut candidates = self.records.family(practice, me.record.guarantor(&me.id)).await?;
        for id in &me.record.family_ids {
            if !candidates.iter().any(|c| &c.id == id) {
                candidates.extend(self.records.get::<Patient>(practice, id).await?);
            }
        }
        if !candidates.iter().any(|c| c.id == me.id) {
            candidates.push(me);
        }
        let mut members: Vec<Member> = candidates
            .iter()
            .filter_map(|c: &Synced<Patient>| {
                may_view(viewer, &c.id, &c.record).map(|relationship| Member {
                    patient_id: PatientId(c.id.clone()),
                    name: c.record.display_name(),
                    relationship,
                    preferred_language: c.record.preferred_language.clone(),
                })
            })
            .collect();
        members.sort_by(|a, b| (a.relationship != Relationship::Own, &a.name).cmp(&(b.relationship != Relationship::Own, &b.name)));
        Ok(members)
    }

    /// The patient whose data a request is about: the viewer themself when `requested` is absent
    /// (no read needed), else a member the viewer may see (one read). Anyone else is
    /// [`CoreError::NotFound`].
    pub async fn resolve(&self, practice: &PracticeId, viewer: &Viewer, requested: Option<&str>) -> CoreResult<PatientId> {
        match requested {
            Some(id) if id != viewer.patient_id.as_str() => Ok(self.member(practice, viewer, requested).await?.0),
            _ => Ok(viewer.patient_id.clone()),
        }
    }

    /// The record of the patient a request is about (the viewer when `requested` is absent), in
    /// one read: the rule needs only that member's own record. Someone the viewer may not see, or
    /// who does not exist, is [`CoreError::NotFound`].
    pub async fn member(
        &self,
        practice: &PracticeId,
        viewer: &Viewer,
        requested: Option<&str>,
    ) -> CoreResult<(PatientId, Synced<Patient>)> {
        let id = requested.unwrap_or(&viewer.patient_id);
        let member = self.records.get::<Patient>(practice, id).await?.ok_or(CoreError::NotFound)?;
        match may_view(viewer, &member.id, &member.record) {
            Some(_) => Ok((PatientId(member.id.clone()), member)),
            None => Err(CoreError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::entities::{Guardian, GuardianRelationship};

    fn patient(guarantor: Option<&str>, minor: bool, guardians: &[&str]) -> Patient {
        serde_json::from_value(serde_json::json!({
            "firstName": "A", "lastName": "B", "birthdate": "2000-01-01",
            "guarantorId": guarantor, "isMinor": minor,
            "guardians": guardians.iter().map(|g| Guardian { patient_id: g.to_string(), relationship: GuardianRelationship::Parent }).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn the_rule() {
        let guarantor = Viewer::new("g", FamilyAccess::Guarantor);
        let spouse = patient(Some("g"), false, &[]);
        let minor = patient(Some("g"), true, &["s"]);
        assert_eq!(may_view(&guarantor, "g", &patient(None, false, &[])), Some(Relationship::Own));
        assert_eq!(may_view(&guarantor, "s", &spouse), Some(Relationship::Family));
        assert_eq!(may_view(&guarantor, "m", &minor), Some(Relationship::Family));
        // The spouse is the minor's guardian, not the guarantor: the minor, not the guarantor.
        let spouse_viewer = Viewer::new("s", FamilyAccess::Guarantor);
        assert_eq!(may_view(&spouse_viewer, "m", &minor), Some(Relationship::Minor));
        assert_eq!(may_view(&spouse_viewer, "g", &patient(None, false, &[])), None);
        // `self`: the guarantor sees only themself; guardians still see their minors.
        let strict = Viewer::new("g", FamilyAccess::SelfOnly);
        assert_eq!(may_view(&strict, "s", &spouse), None);
        let strict_guardian = Viewer::new("s", FamilyAccess::SelfOnly);
        assert_eq!(may_view(&strict_guardian, "m", &minor), Some(Relationship::Minor));
        // Guardianship ends with majority.
        assert_eq!(may_view(&spouse_viewer, "a", &patient(Some("g"), false, &["s"])), None);
    }
}
