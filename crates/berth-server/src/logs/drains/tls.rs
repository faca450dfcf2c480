//! TLS for drains: rustls (ring) trusting the host's CA bundle plus any
//! `--drain-ca-file` certificates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

pub const HOST_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

pub fn client_config(extra_ca_files: &[PathBuf]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let mut files: Vec<&Path> = Vec::new();
    if Path::new(HOST_BUNDLE).exists() {
        files.push(Path::new(HOST_BUNDLE));
    }
    files.extend(extra_ca_files.iter().map(PathBuf::as_path));
    for file in files {
        let certs = CertificateDer::pem_file_iter(file).map_err(|e| format!("{}: {e}", file.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("{}: {e}", file.display()))?;
            // The host bundle may hold certificates rustls rejects: skip those.
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
