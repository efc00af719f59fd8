//! The load generator's HTTP/1.1 client against a scripted server: each framing a response can
//! have, keep-alive and its loss, a server that never answers, and garbage.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use perflab_load::client::{ClientError, ClosedWhere, Connection, Target};
use perflab_load::workload::{BodyNeed, RequestSpec};

/// What the scripted server does with the n-th request on a connection.
#[derive(Clone, Copy)]
enum Reply {
    /// Write these bytes in pieces (to exercise partial reads), keep the connection.
    Bytes(&'static [&'static [u8]]),
    /// Write these bytes, then close the connection.
    ThenClose(&'static [&'static [u8]]),
    /// Never answer.
    Silence,
}

struct Scripted {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

/// Serves `script[i]` for the i-th request of each connection (the last entry repeats).
fn scripted(script: &'static [Reply]) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || serve(stream, script));
        }
    });
    Scripted { addr, connections }
}

fn serve(mut stream: TcpStream, script: &[Reply]) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for i in 0.. {
        // Read one request head and its Content-Length body.
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        match script[i.min(script.len() - 1)] {
            Reply::Bytes(pieces) | Reply::ThenClose(pieces) => {
                for piece in pieces {
                    stream.write_all(piece).unwrap();
                    stream.flush().unwrap();
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            Reply::Silence => {
                std::thread::sleep(Duration::from_secs(5));
                return;
            }
        }
        if let Reply::ThenClose(_) = script[i.min(script.len() - 1)] {
            return;
        }
    }
}

fn get(path: &str) -> RequestSpec {
    RequestSpec {
        method: hyper::Method::GET,
        path: path.into(),
        headers: vec![],
        body: Bytes::new(),
        name: "t".into(),
    }
}

fn connection(addr: SocketAddr) -> Connection {
    Connection::new(Target {
        addr,
        host: hyper::header::HeaderValue::from_str(&addr.to_string()).unwrap(),
        base_url: format!("http://{addr}"),
        tls: None,
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const T: Duration = Duration::from_secs(5);

#[test]
fn chunked_bodies_are_reassembled_and_the_connection_kept() {
    static SCRIPT: [Reply; 1] = [Reply::Bytes(&[
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nx-test: yes\r\n\r\n5\r\nhel",
        b"lo\r\n7;ext=1\r\n, world\r\n0\r\n",
        b"x-trailer: 1\r\n\r\n",
    ])];
    let server = scripted(&SCRIPT);
    let rt = runtime();
    let mut conn = connection(server.addr);
    for _ in 0..3 {
        let a = rt
            .block_on(conn.send(&get("/c"), BodyNeed::All, true, T))
            .unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(&a.body[..], b"hello, world");
        assert_eq!(a.body_len, 12);
        assert_eq!(a.headers.get("x-test").unwrap(), "yes");
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1, "keep-alive");
    // A prefix is a prefix; the length still counts everything.
    let a = rt
        .block_on(conn.send(&get("/c"), BodyNeed::Prefix(3), false, T))
        .unwrap();
    assert_eq!((&a.body[..], a.body_len), (&b"hel"[..], 12));
    assert!(a.headers.is_empty(), "headers only when asked for");
}

#[test]
fn content_length_no_body_and_until_close_framings() {
    static SCRIPT: [Reply; 3] = [
        Reply::Bytes(&[
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234",
            b"56789",
        ]),
        Reply::Bytes(&[b"HTTP/1.1 204 No Content\r\n\r\n"]),
        Reply::ThenClose(&[b"HTTP/1.1 200 OK\r\n\r\nuntil ", b"close"]),
    ];
    let server = scripted(&SCRIPT);
    let rt = runtime();
    let mut conn = connection(server.addr);
    let mut send = || {
        rt.block_on(conn.send(&get("/"), BodyNeed::All, false, T))
            .unwrap()
    };
    assert_eq!(&send().body[..], b"0123456789");
    assert_eq!(send().status, 204);
    let a = send();
    assert_eq!((&a.body[..], a.body_len), (&b"until close"[..], 11));
    // The body ended with the connection: the next request opens a new one.
    assert_eq!(&send().body[..], b"0123456789");
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
}

#[test]
fn a_kept_alive_connection_the_server_closed_is_replaced_silently() {
    // The server answers (without saying `Connection: close`) and then hangs up, as a server
    // with a short keep-alive timeout does. The next request must not fail.
    static SCRIPT: [Reply; 1] = [Reply::ThenClose(&[
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ])];
    let server = scripted(&SCRIPT);
    let rt = runtime();
    let mut conn = connection(server.addr);
    for _ in 0..5 {
        let a = rt
            .block_on(conn.send(&get("/"), BodyNeed::All, false, T))
            .unwrap();
        assert_eq!(&a.body[..], b"ok");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 5);
}

#[test]
fn a_silent_server_times_out_on_time() {
    // The first request is answered, with a long timeout; the second gets silence and a short
    // one, on the same connection (its timer must follow the shorter deadline).
    static SCRIPT: [Reply; 2] = [
        Reply::Bytes(&[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]),
        Reply::Silence,
    ];
    let server = scripted(&SCRIPT);
    let rt = runtime();
    let mut conn = connection(server.addr);
    rt.block_on(conn.send(&get("/"), BodyNeed::None, false, Duration::from_secs(60)))
        .unwrap();
    let start = Instant::now();
    let e = rt
        .block_on(conn.send(&get("/"), BodyNeed::None, false, Duration::from_millis(300)))
        .err()
        .unwrap();
    let took = start.elapsed();
    assert!(matches!(e, ClientError::Timeout(_)), "{e}");
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn garbage_and_truncation_are_clear_errors() {
    static GARBAGE: [Reply; 1] = [Reply::ThenClose(&[b"SSH-2.0-OpenSSH\r\n\r\n"])];
    static SHORT: [Reply; 1] = [Reply::ThenClose(&[
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
    ])];
    let rt = runtime();
    let e = rt
        .block_on(connection(scripted(&GARBAGE).addr).send(&get("/"), BodyNeed::None, false, T))
        .err()
        .unwrap();
    assert!(matches!(e, ClientError::Malformed(_)), "{e}");
    let e = rt
        .block_on(connection(scripted(&SHORT).addr).send(&get("/"), BodyNeed::None, false, T))
        .err()
        .unwrap();
    assert!(
        matches!(e, ClientError::Closed(ClosedWhere::MidBody)),
        "{e}"
    );
}

/// An HTTPS server with a self-signed certificate for 127.0.0.1, answering every request on
/// a kept-alive connection with `ok`.
fn tls_server(rt: &tokio::runtime::Runtime) -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(certified.cert.der().to_vec())],
        key,
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut seen = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // Answer each complete request head (GETs carry no body here).
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if tls.write_all(reply).await.is_err() || tls.flush().await.is_err() {
                            return;
                        }
                    }
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn https_targets_verify_certificates_unless_insecure() {
    let rt = runtime();
    let addr = tls_server(&rt);
    let url = format!("https://{addr}/x");

    let (target, path) = rt.block_on(Target::resolve(&url, true)).unwrap();
    assert_eq!(path, "/x");
    let mut conn = Connection::new(target);
    for _ in 0..3 {
        let a = rt
            .block_on(conn.send(&get("/x"), BodyNeed::All, false, T))
            .unwrap();
        assert_eq!((a.status, &a.body[..]), (200, &b"ok"[..]));
    }

    // Verified against the public roots, a self-signed certificate is refused, by name.
    let (target, _) = rt.block_on(Target::resolve(&url, false)).unwrap();
    let e = rt
        .block_on(Connection::new(target).send(&get("/x"), BodyNeed::All, false, T))
        .err()
        .unwrap();
    // The kind is typed; the message names the certificate and suggests -k.
    assert!(matches!(e, ClientError::Tls { .. }), "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
}
