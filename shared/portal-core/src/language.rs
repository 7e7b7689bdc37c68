//! The languages the portal writes to patients in — English and (US) Spanish — and the words of
//! every email it writes itself: the password reset, the emailed login, the payment receipt, the
//! security notices (password changed, two-step sign-in on or off), and the Spanish defaults of the practice's own templates (WebMail notification, portal invites).
//! A patient's language is the practice system's `preferredLanguage` ("es", "es-MX", "spa",
//! "Spanish", "español" all mean Spanish); anything else is English. Both languages of each email
//! sit side by side here, so a change to one is seen next to the other.

/// A language the portal writes in (`en`, `es` in requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Es,
}

impl Language {
    /// The language a patient prefers, from what the practice's system sent.
    pub fn of(preferred: Option<&str>) -> Self {
        let p = preferred.unwrap_or("").trim().to_lowercase();
        let base = p.split(['-', '_']).next().unwrap_or("");
        if matches!(base, "es" | "spa" | "spanish" | "español" | "espanol") {
            Language::Es
        } else {
            Language::En
        }
    }

    /// The ISO 639-1 code, as pages and links carry it.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
        }
    }
}

/// A portal address that opens its page in `lang` (`?lang=es`); English, the page's default
/// choice, adds nothing.
pub fn in_language(url: &str, lang: Language) -> String {
    match lang {
        Language::En => url.to_string(),
        _ => format!("{url}{}lang={}", if url.contains('?') { '&' } else { '?' }, lang.code()),
    }
}

/// An email's subject and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    pub subject: String,
    pub text: String,
}

/// The password-reset email: the link works once, for 30 minutes.
pub fn reset_mail(lang: Language, practice_name: &str, username: &str, link: &str) -> Words {
    match lang {
        Language::En => Words {
            subject: format!("Reset your {practice_name} patient portal password"),
            text: format!(
                "Someone asked to reset the password of the patient portal login \"{username}\" at {practice_name}.\n\n\
                 To choose a new password, open this link within 30 minutes (it works once):\n{link}\n\n\
                 If this was not you, ignore this email: your password stays as it is."
            ),
        },
        Language::Es => Words {
            subject: format!("Restablezca su contraseña del portal del paciente de {practice_name}"),
            text: format!(
                "Alguien pidió restablecer la contraseña del usuario \"{username}\" del portal del paciente de {practice_name}.\n\n\
                 Para elegir una contraseña nueva, abra este enlace en los próximos 30 minutos (funciona una sola vez):\n{link}\n\n\
                 Si no fue usted, ignore este correo: su contraseña sigue igual."
            ),
        },
    }
}

/// The emailed login: username and temporary password (good for 7 days).
pub fn login_mail(lang: Language, practice_name: &str, first_name: &str, url: &str, username: &str, temporary_password: &str) -> Words {
    match lang {
        Language::En => Words {
            subject: format!("Your {practice_name} patient portal login"),
            text: format!(
                "Dear {first_name},\n\n{practice_name} has set up your patient portal login.\n\nLog in at {url}\nUsername: {username}\n\
                 Temporary password: {temporary_password} (you will choose your own when you first log in; it works for 7 days)\n"
            ),
        },
        Language::Es => Words {
            subject: format!("Su acceso al portal del paciente de {practice_name}"),
            text: format!(
                "Estimado/a {first_name}:\n\n{practice_name} creó su acceso al portal del paciente.\n\nInicie sesión en {url}\n\
                 Usuario: {username}\nContraseña temporal: {temporary_password} (elegirá la suya la primera vez que inicie sesión; \
                 sirve durante 7 días)\n"
            ),
        },
    }
}

/// A payment's receipt. `amount` is already formatted ("$50.00"), `date` is `YYYY-MM-DD`.
pub fn receipt_mail(lang: Language, practice_name: &str, amount: &str, date: &str, reference: &str, card: Option<(&str, &str)>) -> Words {
    match lang {
        Language::En => Words {
            subject: format!("Payment receipt — {practice_name}"),
            text: format!(
                "Thank you for your payment to {practice_name}.\n\nAmount: {amount}\nDate: {date}\nReference: {reference}{}\n\n\
                 The office posts it to your account within a few business days. Keep this email for your records.",
                card.map(|(brand, last4)| format!("\nCard: {brand} ending in {last4}")).unwrap_or_default()
            ),
        },
        Language::Es => Words {
            subject: format!("Recibo de pago — {practice_name}"),
            text: format!(
                "Gracias por su pago a {practice_name}.\n\nImporte: {amount}\nFecha: {date}\nReferencia: {reference}{}\n\n\
                 El consultorio lo aplicará a su cuenta en pocos días hábiles. Guarde este correo como comprobante.",
                card.map(|(brand, last4)| format!("\nTarjeta: {brand} terminada en {last4}")).unwrap_or_default()
            ),
        },
    }
}

/// A change to how a patient signs in, told to them by email so a change they did not make does
/// not go unnoticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityNotice {
    PasswordChanged,
    TwoStepOn,
    TwoStepOff,
}

/// The email telling a patient of a change to their sign-in: what changed, and what to do if it
/// was not them. Nothing else about them.
pub fn notice_mail(lang: Language, notice: SecurityNotice, practice_name: &str, url: &str) -> Words {
    let (what_en, what_es) = match notice {
        SecurityNotice::PasswordChanged => {
            ("Your patient portal password was changed", "Se cambió la contraseña de su portal del paciente")
        }
        SecurityNotice::TwoStepOn => ("Two-step sign-in was turned on", "Se activó el inicio de sesión en dos pasos"),
        SecurityNotice::TwoStepOff => ("Two-step sign-in was turned off", "Se desactivó el inicio de sesión en dos pasos"),
    };
    match lang {
        Language::En => Words {
            subject: format!("{what_en} — {practice_name}"),
            text: format!(
                "{what_en} on your {practice_name} patient portal login.\n\nIf this was you, there is nothing to do.\n\n\
                 If it was not you, reset your password now (\"Forgot your password?\" at {url}) and call the office."
            ),
        },
        Language::Es => Words {
            subject: format!("{what_es} — {practice_name}"),
            text: format!(
                "{what_es} en su acceso al portal del paciente de {practice_name}.\n\nSi fue usted, no tiene que hacer nada.\n\n\
                 Si no fue usted, restablezca su contraseña ahora (\"¿Olvidó su contraseña?\" en {url}) y llame al consultorio."
            ),
        },
    }
}

/// The WebMail notification's Spanish defaults (the practice may change them on Setup).
pub const WEBMAIL_SUBJECT_ES: &str = "Tiene un mensaje seguro nuevo";
pub const WEBMAIL_BODY_ES: &str =
    "Tiene un mensaje seguro nuevo de [PracticeName]. Inicie sesión en el portal del paciente para leerlo: [URL]";

/// The portal invite's Spanish defaults (the practice may change them on the Invites screen).
pub const INVITE_SUBJECT_ES: &str = "Su portal del paciente en [PracticeName]";
pub const INVITE_BODY_ES: &str =
    "Estimado/a [NameF]:\n\n[PracticeName] le invita a nuestro portal del paciente, donde puede ver sus citas, \
su saldo y sus planes de tratamiento, y enviarnos mensajes seguros.\n\nSu cita: [ApptDate] a las [ApptTime].\n\n\
Inicie sesión en [URL]\nUsuario: [UserName]\nContraseña temporal: [Password] (elegirá la suya la primera vez que inicie sesión)\n\n\
¿Preguntas? Llámenos al [OfficePhone].";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_is_recognised_however_the_system_spells_it() {
        for es in ["es", "ES", "es-MX", "es_US", "spa", "Spanish", "Español", " espanol "] {
            assert_eq!(Language::of(Some(es)), Language::Es, "{es}");
        }
        for en in [None, Some(""), Some("en"), Some("en-US"), Some("eng"), Some("fr"), Some("estonian")] {
            assert_eq!(Language::of(en), Language::En, "{en:?}");
        }
    }

    #[test]
    fn every_email_says_the_same_things_in_both_languages() {
        for lang in [Language::En, Language::Es] {
            let reset = reset_mail(lang, "Lakeside", "alex.morgan", "https://p.example/p/lakeside/#reset=T");
            assert!(reset.text.contains("alex.morgan") && reset.text.contains("#reset=T") && reset.subject.contains("Lakeside"));
            let login = login_mail(lang, "Lakeside", "Alex", "https://p.example/p/lakeside/", "alex.morgan", "Temp-123");
            assert!(["Alex", "https://p.example/p/lakeside/", "alex.morgan", "Temp-123"].iter().all(|v| login.text.contains(v)));
            let receipt = receipt_mail(lang, "Lakeside", "$50.00", "2026-12-04", "pay-1", Some(("visa", "4242")));
            assert!(["$50.00", "2026-12-04", "pay-1", "visa", "4242"].iter().all(|v| receipt.text.contains(v)));
            assert!(!receipt_mail(lang, "Lakeside", "$5.00", "2026-12-04", "pay-2", None).text.contains("4242"));
        }
        for notice in [SecurityNotice::PasswordChanged, SecurityNotice::TwoStepOn, SecurityNotice::TwoStepOff] {
            for lang in [Language::En, Language::Es] {
                let words = notice_mail(lang, notice, "Lakeside", "https://p.example/p/lakeside/");
                assert!(words.subject.ends_with("— Lakeside") && words.text.contains("https://p.example/p/lakeside/"));
            }
        }
        for tag in ["[NameF]", "[PracticeName]", "[ApptDate]", "[ApptTime]", "[URL]", "[UserName]", "[Password]", "[OfficePhone]"] {
            assert!(INVITE_BODY_ES.contains(tag), "{tag}");
        }
        assert!(WEBMAIL_BODY_ES.contains("[URL]") && WEBMAIL_BODY_ES.contains("[PracticeName]"));
    }

    #[test]
    fn links_say_spanish_and_keep_their_own_query() {
        assert_eq!(in_language("https://p.example/p/lakeside/", Language::En), "https://p.example/p/lakeside/");
        assert_eq!(in_language("https://p.example/p/lakeside/", Language::Es), "https://p.example/p/lakeside/?lang=es");
        assert_eq!(in_language("https://dental.example/portal?x=1", Language::Es), "https://dental.example/portal?x=1&lang=es");
    }
}
