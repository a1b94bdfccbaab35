//! `lifecycle serve` as an operator runs it: it says where it listens,
//! answers HTTP, stops on SIGTERM with every result saved, and refuses an
//! address others could reach before it touches the store.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::support::Scratch;

/// One HTTP/1.1 exchange: the status code and the body.
fn http(address: &str, request: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "{request} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

#[test]
fn serve_answers_until_sigterm_and_saves_what_it_recorded() {
    let scratch = Scratch::with_models("serve");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .arg("--data-dir")
        .arg(scratch.store())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let address = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();

    let (status, body) = http(&address, "GET /v1/models/gpt-4-turbo/route?key=user-1", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""version":"1.0.0""#), "{body}");
    let results = r#"[{"modelId":"gpt-4-turbo","version":"1.0.0","success":true,"latencyMs":420},
                      {"modelId":"gpt-4-turbo","version":"1.0.0","success":false,"latencyMs":9,"errorKind":"timeout"}]"#;
    let (status, body) = http(&address, "POST /v1/results", results);
    assert_eq!(status, 200, "{body}");

    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    assert_eq!(
        child.wait().unwrap().code(),
        Some(0),
        "SIGTERM ends it cleanly"
    );
    let shown = scratch
        .run(&["show", "gpt-4-turbo", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(shown["metrics"]["sampleCount"], 2, "{shown}");
    assert_eq!(shown["metrics"]["failuresByKind"]["timeout"], 1, "{shown}");
}

#[test]
fn serve_refuses_an_address_other_hosts_reach_without_opening_the_store() {
    let scratch = Scratch::new("serve-refused");
    // No store at all: the address is refused first.
    scratch
        .run(&["serve", "--listen", "0.0.0.0:7070"])
        .fails(1, "loopback only");
}
