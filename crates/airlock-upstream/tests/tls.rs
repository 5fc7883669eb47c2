//! HTTPS through airlock's HTTP client: a real TLS handshake with a local server whose certificate a
//! CA made here signed. Fails if no rustls crypto provider is installed (reqwest brings none of its
//! own), or if the provider cannot do the handshake.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const BODY: &str = "hello over TLS";

/// A CA certificate (DER) and a TLS server on 127.0.0.1 answering one request with [`BODY`].
fn serve_once() -> (Vec<u8>, u16) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "airlock test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();

    // The server names its provider: it must not install a process default that the client could
    // then be using without having installed one itself.
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![server_cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
        let mut line = String::new();
        while tls.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
            line.clear();
        }
        let tls = tls.get_mut();
        write!(
            tls,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
            BODY.len()
        )
        .unwrap();
        tls.conn.send_close_notify();
        tls.flush().unwrap();
    });
    (ca.der().to_vec(), port)
}

#[tokio::test]
async fn the_http_client_completes_a_tls_handshake() {
    let (ca, port) = serve_once();
    let client = airlock_upstream::http_client()
        .add_root_certificate(reqwest::Certificate::from_der(&ca).unwrap())
        .no_proxy()
        .build()
        .expect("the HTTP client builds");
    let response = client
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .expect("HTTPS request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), BODY);
}
