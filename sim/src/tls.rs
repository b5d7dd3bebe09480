//! TLS for the listeners: a fresh self-signed leaf certificate per listener (rcgen, CA:FALSE, SANs
//! for loopback), its SHA-256 fingerprint, and the rustls server config (ring provider only).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A listener's certificate and what clients need to trust it.
#[derive(Clone)]
pub struct Identity {
    pub cert_der: CertificateDer<'static>,
    pub cert_pem: String,
    /// SHA-256 of the DER, upper-case colon-separated hex.
    pub fingerprint: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

/// Upper-case colon hex of the SHA-256 of `der` (`AB:CD:...`, 32 bytes).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A self-signed server certificate for `common_name`, valid from yesterday for two years, with
/// SANs `localhost`, 127.0.0.1, ::1 and `bind` (when it is a specific address).
pub fn generate(common_name: &str, bind: IpAddr) -> io::Result<Identity> {
    let mut params =
        CertificateParams::new(Vec::<String>::new()).map_err(|e| tls_error("certificate", e))?;
    let mut sans = vec![
        SanType::DnsName(
            "localhost"
                .try_into()
                .map_err(|e| tls_error("certificate SAN", e))?,
        ),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    let standard = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if !bind.is_unspecified() && !standard.contains(&bind) {
        sans.push(SanType::IpAddress(bind));
    }
    params.subject_alt_names = sans;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "pve-ontap-sim");
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(730);

    let key = KeyPair::generate().map_err(|e| tls_error("certificate key", e))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| tls_error("self-signed certificate", e))?;
    let cert_der = cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("TLS protocol versions", e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .map_err(|e| tls_error("TLS server certificate", e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];

    Ok(Identity {
        fingerprint: fingerprint(&cert_der),
        cert_pem: cert.pem(),
        cert_der,
        server_config: Arc::new(config),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_upper_case_colon_hex_sha256() {
        let fp = fingerprint(b"abc");
        assert_eq!(
            fp,
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn generates_distinct_identities() {
        let a = generate("ontap", IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        let b = generate("pve", IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        assert_ne!(a.fingerprint, b.fingerprint);
        assert_eq!(a.fingerprint, fingerprint(&a.cert_der));
        assert!(a.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
