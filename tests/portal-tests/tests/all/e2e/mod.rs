//! End-to-end HTTP flows against a portal-local started in this process (real sockets, real
//! SQLite, the authorizer as middleware), as a patient, a staff member and an attacker would use
//! it: logins and sessions (`logins`), a practice's setup (`practice`).

mod logins;
mod practice;

use crate::support::{client, send, start_local, Local};
use portal_core::ports::{Clock, ManualClock, Table};
use portal_core::practice::url_policy::UrlRules;
use serde_json::{json, Value};
use std::sync::Arc;

fn assert_problem(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    for k in ["type", "title", "status", "detail", "code"] {
        assert!(!body[k].is_null(), "problem body lacks {k}: {body}");
    }
    assert_eq!(body["status"], want_status);
}
