//! A TLS endpoint on 127.0.0.1 in front of a plain HTTP listener, with a
//! certificate for `127.0.0.1` and `localhost` signed by a CA made for the
//! test: what a private-CA deployment of sfsync looks like to the CLI.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio_rustls::rustls;

/// A running TLS proxy; stops when dropped.
pub struct TlsProxy {
    addr: SocketAddr,
    ca_pem: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _thread: std::thread::JoinHandle<()>,
}

impl TlsProxy {
    /// Terminate TLS on a free loopback port and forward to `upstream`.
    pub fn start(upstream: SocketAddr) -> TlsProxy {
        let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("CA key: {e}"));
        let mut ca_params = CertificateParams::new(Vec::<String>::new())
            .unwrap_or_else(|e| panic!("CA params: {e}"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sfsync test CA");
        let ca = ca_params
            .self_signed(&ca_key)
            .unwrap_or_else(|e| panic!("CA: {e}"));
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("key: {e}"));
        let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap_or_else(|e| panic!("params: {e}"));
        let cert = params
            .signed_by(&key, &issuer)
            .unwrap_or_else(|e| panic!("certificate: {e}"));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth().with_single_cert(
                vec![cert.der().clone(), ca.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
        })
        .unwrap_or_else(|e| panic!("TLS config: {e}"));
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("nonblocking: {e}"));
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("tokio: {e}"));
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .unwrap_or_else(|e| panic!("listener: {e}"));
                loop {
                    let accepted = tokio::select! {
                        _ = &mut stop_rx => break,
                        a = listener.accept() => a,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        // A client that does not trust the CA ends the handshake here.
                        let Ok(mut tls) = acceptor.accept(stream).await else {
                            return;
                        };
                        let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    });
                }
            });
        });
        TlsProxy {
            addr,
            ca_pem: ca.pem(),
            _stop: stop_tx,
            _thread: thread,
        }
    }

    /// `https://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The CA certificate that signed the endpoint's, as PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
}
