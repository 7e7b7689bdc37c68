//! S/MIME for care summaries sent encrypted (a Direct address): the recipient certificates a
//! practice registers are read here (X.509, PEM; an RSA key and at least one email address), and a
//! MIME entity is sealed to one as CMS enveloped data (RFC 5652, RFC 8551): AES-256-CBC content
//! encryption, the key transported with the recipient's RSA key (PKCS #1 v1.5, what Direct
//! requires every party to accept), the recipient named by issuer and serial number.

use cms::builder::{ContentEncryptionAlgorithm, EnvelopedDataBuilder, KeyEncryptionInfo, KeyTransRecipientInfoBuilder};
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::ContentInfo;
use cms::enveloped_data::RecipientIdentifier;
use rsa::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const EMAIL_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");
const ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");

/// A recipient certificate, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientCertificate {
    /// Its email addresses (subjectAltName rfc822Name, else the subject's emailAddress), lowercase.
    pub addresses: Vec<String>,
    pub subject: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the DER, lowercase hex.
    pub fingerprint: String,
    pub der: Vec<u8>,
}

/// The shortest RSA key a recipient may have: NIST SP 800-131A allows nothing shorter for key
/// transport since 2014.
pub const MIN_RSA_BITS: usize = 2048;

fn rsa_key(cert: &Certificate) -> Result<rsa::RsaPublicKey, String> {
    use rsa::traits::PublicKeyParts;
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| e.to_string())?;
    let key = rsa::RsaPublicKey::from_public_key_der(&spki).map_err(|_| "the certificate's key is not an RSA key".to_string())?;
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(format!("the certificate's RSA key has {bits} bits; at least {MIN_RSA_BITS} are required (NIST SP 800-131A)"));
    }
    Ok(key)
}

/// Reads a PEM certificate; says what is wrong with one that cannot be used.
pub fn read_certificate(pem: &str) -> Result<RecipientCertificate, String> {
    let cert = Certificate::from_pem(pem.trim().as_bytes()).map_err(|_| "not a PEM X.509 certificate".to_string())?;
    rsa_key(&cert)?;
    let der = cert.to_der().map_err(|e| e.to_string())?;
    let mut addresses = vec![];
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id == SUBJECT_ALT_NAME {
            if let Ok(names) = x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes()) {
                for name in names.0 {
                    if let x509_cert::ext::pkix::name::GeneralName::Rfc822Name(a) = name {
                        addresses.push(a.as_str().to_ascii_lowercase());
                    }
                }
            }
        }
    }
    if addresses.is_empty() {
        for rdn in cert.tbs_certificate.subject.0.iter() {
            for atv in rdn.0.iter().filter(|a| a.oid == EMAIL_ADDRESS) {
                if let Ok(s) = atv.value.decode_as::<x509_cert::der::asn1::Ia5StringRef<'_>>() {
                    addresses.push(s.as_str().to_ascii_lowercase());
                }
            }
        }
    }
    let validity = &cert.tbs_certificate.validity;
    Ok(RecipientCertificate {
        addresses,
        subject: cert.tbs_certificate.subject.to_string(),
        not_before: crate::clock::seconds(validity.not_before.to_unix_duration()),
        not_after: crate::clock::seconds(validity.not_after.to_unix_duration()),
        fingerprint: hex::encode(Sha256::digest(&der)),
        der,
    })
}

/// `entity` (a whole MIME entity: headers, blank line, body) sealed to the certificate: the DER of
/// a CMS `ContentInfo` holding `EnvelopedData`, the body of an `application/pkcs7-mime` message.
pub fn seal(entity: &[u8], recipient_der: &[u8]) -> Result<Vec<u8>, String> {
    let cert = Certificate::from_der(recipient_der).map_err(|e| e.to_string())?;
    let key = rsa_key(&cert)?;
    let rid = RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: cert.tbs_certificate.issuer.clone(),
        serial_number: cert.tbs_certificate.serial_number.clone(),
    });
    let mut rng = rand_core06::OsRng;
    let mut key_rng = rand_core06::OsRng;
    let recipient = KeyTransRecipientInfoBuilder::new(rid, KeyEncryptionInfo::Rsa(key), &mut key_rng).map_err(|e| e.to_string())?;
    let mut builder = EnvelopedDataBuilder::new(None, entity, ContentEncryptionAlgorithm::Aes256Cbc, None).map_err(|e| e.to_string())?;
    let enveloped =
        builder.add_recipient_info(recipient).map_err(|e| e.to_string())?.build_with_rng(&mut rng).map_err(|e| e.to_string())?;
    let content = x509_cert::der::Any::encode_from(&enveloped).map_err(|e| e.to_string())?;
    ContentInfo { content_type: ENVELOPED_DATA, content }.to_der().map_err(|e| e.to_string())
}
