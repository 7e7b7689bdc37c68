//! The seven portal features a practice can give its patients. The names are fixed: they appear in
//! the UI, the API and the stored settings exactly as written here.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Feature {
    MakePayments,
    ModuleAccount,
    ModuleWebMail,
    ModuleCareSummary,
    ModuleImages,
    MakeAppointments,
    ModuleTreatmentPlan,
}

/// The features whose module is deployed. The others can be switched on and off as usual, but
/// patients are told they are coming and staff that they are not available yet. A test checks
/// this list against the routes the module registry serves.
pub const AVAILABLE: &[Feature] = &[
    Feature::MakePayments,
    Feature::ModuleAccount,
    Feature::ModuleWebMail,
    Feature::ModuleCareSummary,
    Feature::ModuleImages,
    Feature::MakeAppointments,
    Feature::ModuleTreatmentPlan,
];

impl Feature {
    /// In the order the admin page lists them.
    pub const ALL: [Feature; 7] = [
        Feature::MakePayments,
        Feature::ModuleAccount,
        Feature::ModuleWebMail,
        Feature::ModuleCareSummary,
        Feature::ModuleImages,
        Feature::MakeAppointments,
        Feature::ModuleTreatmentPlan,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Feature::MakePayments => "MakePayments",
            Feature::ModuleAccount => "ModuleAccount",
            Feature::ModuleWebMail => "ModuleWebMail",
            Feature::ModuleCareSummary => "ModuleCareSummary",
            Feature::ModuleImages => "ModuleImages",
            Feature::MakeAppointments => "MakeAppointments",
            Feature::ModuleTreatmentPlan => "ModuleTreatmentPlan",
        }
    }

    pub fn parse(key: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.key() == key)
    }

    /// The API route prefix whose routes belong to this feature.
    pub fn route_prefix(self) -> &'static str {
        match self {
            Feature::MakePayments => "/v1/payments",
            Feature::ModuleAccount => "/v1/account",
            Feature::ModuleWebMail => "/v1/webmail",
            Feature::ModuleCareSummary => "/v1/care-summary",
            Feature::ModuleImages => "/v1/images",
            Feature::MakeAppointments => "/v1/appointments",
            Feature::ModuleTreatmentPlan => "/v1/treatment-plans",
        }
    }

    /// Whether this feature's module is deployed (see [`AVAILABLE`]).
    pub fn available(self) -> bool {
        AVAILABLE.contains(&self)
    }

    /// What patients see on the tab.
    pub fn label(self) -> &'static str {
        match self {
            Feature::MakePayments => "Payments",
            Feature::ModuleAccount => "Account",
            Feature::ModuleWebMail => "Messages",
            Feature::ModuleCareSummary => "Care summary",
            Feature::ModuleImages => "Images & documents",
            Feature::MakeAppointments => "Appointments",
            Feature::ModuleTreatmentPlan => "Treatment plans",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A set of features, kept sorted in the canonical order and free of repeats.
pub fn normalize(mut features: Vec<Feature>) -> Vec<Feature> {
    features.sort();
    features.dedup();
    features
}

/// The comma-joined form carried in the flat authorizer context.
pub fn join(features: &[Feature]) -> String {
    features.iter().map(|f| f.key()).collect::<Vec<_>>().join(",")
}

/// Inverse of [`join`]; unknown keys are dropped (the context is produced by our own authorizer).
pub fn split(joined: &str) -> Vec<Feature> {
    normalize(joined.split(',').filter_map(|k| Feature::parse(k.trim())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_join_split() {
        for f in Feature::ALL {
            assert_eq!(Feature::parse(f.key()), Some(f));
        }
        assert_eq!(Feature::parse("modulewebmail"), None);
        let set = vec![Feature::ModuleWebMail, Feature::MakePayments, Feature::MakePayments];
        let joined = join(&normalize(set));
        assert_eq!(joined, "MakePayments,ModuleWebMail");
        assert_eq!(split(&joined), vec![Feature::MakePayments, Feature::ModuleWebMail]);
        assert_eq!(split(""), vec![]);
    }
}
