//! `airlock request`, `requests`, `approve`, `reject`: the review workflow, through a server.

use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api;

/// Where and as whom.
pub struct Remote {
    pub server: String,
    pub token: String,
}

impl Remote {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = api::url(&self.server, path);
        let mut request = api::request(method, &url, Some(&self.token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let text = api::send(request, &url).await?;
        serde_json::from_str(&text).context("the server's answer is not JSON")
    }
}

/// `airlock request FILE | pkg==ver... --lane L --reason R`: prints a summary, then the id last.
pub async fn create(
    remote: &Remote,
    items: &[String],
    lane: &str,
    reason: &str,
    kind: Option<&str>,
) -> Result<()> {
    let is_file = items.len() == 1 && !items[0].contains("==");
    let mut body = json!({ "lane": lane, "reason": reason });
    if is_file {
        body["manifest"] = crate::check::manifest_json(&items[0], kind)?;
    } else {
        body["packages"] = json!(items);
    }
    let view = remote.call(Method::POST, "requests", Some(body)).await?;
    print_request(&view);
    println!("{}", view["id"]);
    Ok(())
}

pub async fn list(
    remote: &Remote,
    lane: Option<&str>,
    state: Option<&str>,
    as_json: bool,
) -> Result<()> {
    let mut query = Vec::new();
    if let Some(l) = lane {
        query.push(format!("lane={l}"));
    }
    if let Some(s) = state {
        query.push(format!("state={s}"));
    }
    let path = if query.is_empty() {
        "requests".to_string()
    } else {
        format!("requests?{}", query.join("&"))
    };
    let answer = remote.call(Method::GET, &path, None).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    for r in answer["requests"].as_array().into_iter().flatten() {
        println!(
            "{:>5}  {:<9} lane {:<10} {:>3} entries  by {}: {}",
            r["id"],
            s(&r["state"]),
            s(&r["lane"]),
            r["entries"].as_array().map_or(0, Vec::len),
            s(&r["requester"]),
            s(&r["reason"])
        );
    }
    Ok(())
}

pub async fn show(remote: &Remote, id: i64, as_json: bool) -> Result<()> {
    let view = remote
        .call(Method::GET, &format!("requests/{id}"), None)
        .await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        print_request(&view);
    }
    Ok(())
}

pub async fn approve(remote: &Remote, id: i64, only: &[String]) -> Result<()> {
    let view = remote
        .call(
            Method::POST,
            &format!("requests/{id}/approve"),
            Some(if only.is_empty() {
                json!({ "all": true })
            } else {
                json!({ "only": only })
            }),
        )
        .await?;
    print_request(&view);
    Ok(())
}

pub async fn reject(remote: &Remote, id: i64, reason: &str) -> Result<()> {
    let view = remote
        .call(
            Method::POST,
            &format!("requests/{id}/reject"),
            Some(json!({ "reason": reason })),
        )
        .await?;
    print_request(&view);
    Ok(())
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
            "  {}:{}=={}  {}{}{}  {}",
            s(&e["ecosystem"]),
            s(&e["name"]),
            s(&e["version"]),
            s(&e["action"]),
            now,
            if e["approved"] == true {
                ", approved"
            } else {
                ""
            },
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
