//! `airlock request`, `requests`, `approve`, `reject`, and the waivers of scan findings (`waive`,
//! `waivers`, `unwaive`): the review workflow, on the data directory or through a server.

use anyhow::Result;
use serde_json::Value;

use crate::client::{Client, RequestItems};

/// `airlock request FILE | pkg==ver... --lane L --reason R`: prints a summary, then the id last.
pub async fn create(
    client: &impl Client,
    items: &[String],
    lane: &str,
    reason: &str,
    kind: Option<&str>,
) -> Result<()> {
    let is_file = items.len() == 1 && !items[0].contains("==");
    let items = if is_file {
        RequestItems::Manifest {
            file: &items[0],
            kind,
        }
    } else {
        RequestItems::Packages(items)
    };
    let view = client.create_request(lane, reason, items).await?;
    print_request(&view);
    println!("{}", view["id"]);
    Ok(())
}

pub async fn list(
    client: &impl Client,
    lane: Option<&str>,
    state: Option<&str>,
    as_json: bool,
) -> Result<()> {
    let answer = client.requests(lane, state).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    for r in answer["requests"].as_array().into_iter().flatten() {
        println!(
            "{:>5}  {:<9} lane {:<10} {:>11}  by {}: {}",
            r["id"],
            s(&r["state"]),
            s(&r["lane"]),
            crate::text::count(
                r["entries"].as_array().map_or(0, Vec::len) as u64,
                "entry",
                "entries"
            ),
            s(&r["requester"]),
            s(&r["reason"])
        );
    }
    Ok(())
}

pub async fn show(client: &impl Client, id: i64, as_json: bool) -> Result<()> {
    let view = client.request(id).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        print_request(&view);
    }
    Ok(())
}

pub async fn approve(client: &impl Client, id: i64, only: &[String]) -> Result<()> {
    print_request(&client.approve(id, only).await?);
    Ok(())
}

pub async fn reject(client: &impl Client, id: i64, reason: &str) -> Result<()> {
    print_request(&client.reject(id, reason).await?);
    Ok(())
}

/// `waiver 3 (active) lane prod: pypi:x==1.0 py-setup-network, by alice until 2027-02-01T00:00:00Z: "…"`.
pub fn print_waiver(w: &Value) {
    let until = w["expires_at"]
        .as_str()
        .map(|at| format!(" until {at}"))
        .unwrap_or_default();
    let revoked = w["revoked_by"]
        .as_str()
        .map(|by| format!(", revoked by {by} at {}", s(&w["revoked_at"])))
        .unwrap_or_default();
    println!(
        "waiver {} ({}) lane {}: {}:{}=={} {}, by {}{until}{revoked}: {:?}",
        w["id"],
        s(&w["state"]),
        s(&w["lane"]),
        s(&w["ecosystem"]),
        s(&w["name"]),
        s(&w["version"]),
        s(&w["rule"]),
        s(&w["created_by"]),
        s(&w["justification"])
    );
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn print_request(r: &Value) {
    println!(
        "request {} for lane {}: {} (by {}: {})",
        r["id"],
        s(&r["lane"]),
        s(&r["state"]),
        s(&r["requester"]),
        s(&r["reason"])
    );
    if let Some(by) = r["decided_by"].as_str() {
        let why = r["decision_reason"]
            .as_str()
            .map(|w| format!(": {w}"))
            .unwrap_or_default();
        println!("  decided by {by} at {}{why}", s(&r["decided_at"]));
    }
    for e in r["entries"].as_array().into_iter().flatten() {
        let now = e["now"]["action"]
            .as_str()
            .map(|a| format!(", now {a}"))
            .unwrap_or_default();
        let findings: Vec<String> = e["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| s(&x["code"]))
            .collect();
        println!(
            "  {}:{}=={}  {} when requested{}{}  {}",
            s(&e["ecosystem"]),
            s(&e["name"]),
            s(&e["version"]),
            s(&e["action"]),
            if e["approved"] == true {
                ", approved"
            } else {
                ""
            },
            now,
            findings.join(", ")
        );
    }
    for m in r["missing"].as_array().into_iter().flatten() {
        println!(
            "  missing: {}:{} ({}), needed by {}",
            s(&m["ecosystem"]),
            s(&m["name"]),
            s(&m["requirement"]),
            s(&m["needed_by"])
        );
    }
}
