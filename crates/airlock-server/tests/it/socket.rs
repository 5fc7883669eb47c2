//! Responses over real connections, as `serve` answers them: a page kept in a memory file
//! (16 KiB and up) leaves from it with sendfile(2), after its head; what arrives must be the page,
//! request after request on one kept-alive connection, and with `HEAD` only the head.

use std::time::Duration;

use airlock_service::Role;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{TestApp, dists};

const JSON: &str = "application/vnd.pypi.simple.v1+json";

/// One response read off `stream`: status line, headers (lowercase names), and a body of
/// `Content-Length` bytes (none for `HEAD`).
async fn response(
    stream: &mut BufReader<TcpStream>,
    head_only: bool,
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut status = String::new();
    stream.read_line(&mut status).await.expect("status line");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header");
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map(|(_, v)| v.parse().expect("a length"))
        .expect("Content-Length");
    let mut body = vec![0; if head_only { 0 } else { length }];
    stream.read_exact(&mut body).await.expect("the whole body");
    (status.trim_end().to_owned(), headers, body)
}

#[tokio::test]
async fn large_pages_arrive_whole_on_kept_alive_connections() {
    let app = TestApp::start().await;
    let publisher = app.token("pub", Role::Publisher, &[]).await;
    for minor in 0..60 {
        let wheel = dists::wheel("bigpage", &format!("1.{minor}"), &[]);
        app.publish(&publisher, "internal-pypi", &wheel).await;
    }
    let expected = app
        .get("/dev/pypi/simple/bigpage/")
        .header("accept", JSON)
        .send()
        .await
        .ok()
        .body;
    assert!(
        expected.len() >= airlock_service::sendable::MIN_LEN,
        "the page ({} bytes) is large enough to be sent from its memory file",
        expected.len()
    );

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(airlock_server::serve(
        app.service().clone(),
        listener,
        Box::pin(async move {
            let _ = stopped.await;
        }),
    ));

    let mut stream = BufReader::new(TcpStream::connect(address).await.expect("connect"));
    let request = |method: &str| {
        format!(
            "{method} /dev/pypi/simple/bigpage/ HTTP/1.1\r\nHost: test\r\nAccept: {JSON}\r\n\
             Accept-Encoding: identity\r\n\r\n"
        )
    };
    for round in 0..3 {
        // Two requests written at once, then a third: answers follow each other on the socket.
        let requests = format!("{}{}", request("GET"), request("HEAD"));
        stream
            .get_mut()
            .write_all(requests.as_bytes())
            .await
            .expect("send");
        let (status, headers, body) = response(&mut stream, false).await;
        assert_eq!(status, "HTTP/1.1 200 OK", "round {round}");
        assert!(
            body == expected[..],
            "round {round}: the page, byte for byte"
        );
        let length = expected.len().to_string();
        assert!(headers.contains(&("content-length".into(), length.clone())));
        let (status, headers, _) = response(&mut stream, true).await;
        assert_eq!(status, "HTTP/1.1 200 OK", "HEAD, round {round}");
        assert!(headers.contains(&("content-length".into(), length)));
    }
    // Nothing more was sent: the next bytes are the answer to the next request.
    stream
        .get_mut()
        .write_all(request("GET").as_bytes())
        .await
        .expect("send");
    let (_, _, body) = tokio::time::timeout(Duration::from_secs(10), response(&mut stream, false))
        .await
        .expect("an answer");
    assert!(body == expected[..]);

    let _ = stop.send(());
    drop(stream);
    server.await.expect("server task").expect("server");
}
