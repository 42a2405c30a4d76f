//! Local stand-ins for the ITSM and chat services that cannot run here (Jira, ServiceNow, GLPI,
//! Microsoft Teams, Slack) and a receiver for the generic webhook. Each listens on 127.0.0.1,
//! checks every request against the vendor's documented API — method, path, authentication,
//! headers, body shape — and answers as the vendor does: the documented success codes and
//! bodies, 401 for bad credentials, and whatever errors the test injects (429 with
//! `Retry-After`, 500, a hang, a garbage body). A request that breaks the contract is answered
//! 400 and recorded in [`State::violations`]; tests assert there are none.
//!
//! References: Jira REST v2/v3 (`/rest/api/N/issue`, `…/comment`, `…/transitions`,
//! `/rest/api/2/search`, `/rest/api/3/search/jql`, `/myself`), ServiceNow Table API
//! (`/api/now/table/{table}`, `result` envelope, Basic auth), GLPI REST (`initSession`,
//! `Session-Token`/`App-Token`, `{"input": …}`, `ITILFollowup`, `getFullSession`), Teams
//! incoming webhooks (a `message` with an `application/vnd.microsoft.card.adaptive`
//! attachment), Slack incoming webhooks (`text` and/or `blocks`, answers `ok`).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, Response};
use base64::Engine;
use serde_json::{Value, json};

/// Which vendor a server plays.
#[derive(Debug, Clone)]
pub enum Flavor {
    /// Jira, API version 2 or 3; the exact `Authorization` header expected.
    Jira {
        /// 2 or 3.
        version: u8,
        /// `Basic …` or `Bearer …`.
        auth: String,
    },
    /// ServiceNow with Basic `user:password`.
    ServiceNow {
        /// User.
        user: String,
        /// Password.
        password: String,
    },
    /// GLPI with a user token and an optional app token.
    Glpi {
        /// `user_token`.
        user_token: String,
        /// `App-Token`.
        app_token: Option<String>,
    },
    /// A Teams incoming webhook at `/webhookb2/<secret>`.
    Teams,
    /// A Slack incoming webhook at `/services/<secret>`.
    Slack,
    /// A receiver checking `X-Vantage-Signature` with this key.
    Webhook {
        /// The HMAC key.
        key: String,
    },
}

/// A canned failure answered instead of the next request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Status, optional `Retry-After` seconds, body.
    Status(u16, Option<u64>, String),
    /// Sleep this long before answering normally (the client should time out).
    Hang(Duration),
    /// 200/201 with a body that is not JSON.
    Garbage,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Body parsed as JSON (Null when empty or not JSON).
    pub body: Value,
    /// Headers.
    pub headers: HeaderMap,
}

/// What the server saw and holds.
#[derive(Debug, Default)]
pub struct State {
    /// Every request, in order.
    pub requests: Vec<Recorded>,
    /// Tickets by id: the vendor's record (fields as last written).
    pub tickets: BTreeMap<String, Value>,
    /// Comments / work notes / follow-ups: (ticket id, text).
    pub comments: Vec<(String, String)>,
    /// Messages received by chat and webhook flavours (the JSON body).
    pub messages: Vec<Value>,
    /// Faults to answer with, first first.
    pub faults: VecDeque<Fault>,
    /// Contract violations found.
    pub violations: Vec<String>,
    /// At most this many requests per second; more get 429 with `Retry-After: 1`.
    pub rate_limit: Option<u32>,
    window: Option<(Instant, u32)>,
    next_id: u64,
    sessions: Vec<String>,
}

/// A running fake vendor.
pub struct Vendor {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state.
    pub state: Arc<Mutex<State>>,
    flavor: Flavor,
    _thread: std::thread::JoinHandle<()>,
}

impl Vendor {
    /// Starts a server of `flavor` on 127.0.0.1 (its own thread and runtime, so sync and async
    /// tests can use it).
    pub fn start(flavor: Flavor) -> Vendor {
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let (st, fl) = (state.clone(), flavor.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(move |req: Request<Body>| {
                    let (st, fl) = (st.clone(), fl.clone());
                    async move { handle(st, fl, req).await }
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().expect("fake vendor started");
        Vendor {
            addr,
            state,
            flavor,
            _thread: thread,
        }
    }

    /// The base URL a connector is configured with (the webhook URL for chat flavours).
    pub fn url(&self) -> String {
        match self.flavor {
            Flavor::Teams => format!(
                "http://{}/webhookb2/0c1d2e3f@tenant/IncomingWebhook/abc/SECRETSIG",
                self.addr
            ),
            Flavor::Slack => format!("http://{}/services/T000/B000/XXXXSECRETXXXX", self.addr),
            Flavor::Glpi { .. } => format!("http://{}/apirest.php", self.addr),
            _ => format!("http://{}", self.addr),
        }
    }

    /// Queues faults.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    /// Runs `f` on the state.
    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Panics with the list of contract violations, if any.
    pub fn assert_clean(&self) {
        let v = self.with(|s| s.violations.clone());
        assert!(v.is_empty(), "contract violations: {v:#?}");
    }
}

fn answer(status: u16, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn text(status: u16, body: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn handle(state: Arc<Mutex<State>>, flavor: Flavor, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 4 << 20).await.unwrap_or_default();
    let json_body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let rec = Recorded {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        body: json_body.clone(),
        headers: parts.headers.clone(),
    };
    let fault = {
        let mut s = state.lock().unwrap();
        s.requests.push(rec);
        if let Some(limit) = s.rate_limit {
            let now = Instant::now();
            let (start, n) = s.window.unwrap_or((now, 0));
            let (start, n) = if now.duration_since(start) >= Duration::from_secs(1) {
                (now, 0)
            } else {
                (start, n)
            };
            if n >= limit {
                s.window = Some((start, n));
                return Response::builder()
                    .status(429)
                    .header("retry-after", "1")
                    .body(Body::from("rate limited"))
                    .unwrap();
            }
            s.window = Some((start, n + 1));
        }
        s.faults.pop_front()
    };
    match fault {
        Some(Fault::Status(code, retry, body)) => {
            let mut b = Response::builder().status(code);
            if let Some(r) = retry {
                b = b.header("retry-after", r.to_string());
            }
            return b.body(Body::from(body)).unwrap();
        }
        Some(Fault::Hang(d)) => tokio::time::sleep(d).await,
        Some(Fault::Garbage) => return text(201, "<html>Service Unavailable</html>"),
        None => {}
    }
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let mut s = state.lock().unwrap();
    let r = match &flavor {
        Flavor::Jira { version, auth } => jira(
            &mut s,
            *version,
            auth,
            &parts.method,
            &path,
            &query,
            &parts.headers,
            &json_body,
        ),
        Flavor::ServiceNow { user, password } => servicenow(
            &mut s,
            user,
            password,
            &parts.method,
            &path,
            &query,
            &parts.headers,
            &json_body,
        ),
        Flavor::Glpi {
            user_token,
            app_token,
        } => glpi(
            &mut s,
            user_token,
            app_token.as_deref(),
            &parts.method,
            &path,
            &parts.headers,
            &json_body,
        ),
        Flavor::Teams => teams(&mut s, &parts.method, &path, &parts.headers, &json_body),
        Flavor::Slack => slack(&mut s, &parts.method, &path, &parts.headers, &json_body),
        Flavor::Webhook { key } => webhook(&mut s, key, &parts.method, &parts.headers, &bytes),
    };
    match r {
        Ok(resp) => resp,
        Err(v) => {
            s.violations.push(format!("{} {path}: {v}", parts.method));
            answer(400, json!({"error": v}))
        }
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn need_json(h: &HeaderMap) -> Result<(), String> {
    match header(h, "content-type") {
        Some(c) if c.starts_with("application/json") => Ok(()),
        other => Err(format!(
            "Content-Type must be application/json, not {other:?}"
        )),
    }
}

fn str_field<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
    let mut cur = v;
    for p in path.split('.') {
        cur = &cur[p];
    }
    cur.as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("`{path}` must be a non-empty string"))
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url_decode_pairs(query)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn url_decode_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct(k), pct(v))
        })
        .collect()
}

fn pct(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(h, 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Jira: an ADF document (v3) or a string (v2).
fn jira_text(version: u8, v: &Value, what: &str) -> Result<String, String> {
    if version == 2 {
        return v
            .as_str()
            .map(String::from)
            .ok_or_else(|| format!("v2 `{what}` must be a string"));
    }
    if v["type"] != "doc" || v["version"] != 1 || !v["content"].is_array() {
        return Err(format!(
            "v3 `{what}` must be an Atlassian Document (type doc, version 1, content)"
        ));
    }
    let mut out = Vec::new();
    for p in v["content"].as_array().unwrap() {
        if p["type"] != "paragraph" {
            return Err(format!("`{what}`: unexpected node {}", p["type"]));
        }
        for t in p["content"].as_array().into_iter().flatten() {
            if t["type"] != "text" || !t["text"].is_string() {
                return Err(format!("`{what}`: text nodes need type text and a text"));
            }
            out.push(t["text"].as_str().unwrap().to_string());
        }
    }
    Ok(out.join("\n\n"))
}

#[allow(clippy::too_many_arguments)]
fn jira(
    s: &mut State,
    version: u8,
    auth: &str,
    method: &Method,
    path: &str,
    query: &str,
    h: &HeaderMap,
    body: &Value,
) -> Result<Response<Body>, String> {
    if header(h, "authorization") != Some(auth) {
        return Ok(answer(
            401,
            json!({"errorMessages": ["You are not authenticated. Authentication required to perform this operation."], "errors": {}}),
        ));
    }
    let prefix = format!("/rest/api/{version}/");
    let Some(rest) = path.strip_prefix(&prefix) else {
        return Err(format!("path must start with {prefix}"));
    };
    let segs: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["myself"]) => Ok(answer(
            200,
            json!({"accountId": "5b10a2844c20165700ede21g", "emailAddress": "vantage@example.com", "displayName": "Vantage"}),
        )),
        ("GET", ["search"]) if version == 2 => jira_search(s, query),
        ("GET", ["search", "jql"]) if version == 3 => jira_search(s, query),
        ("POST", ["issue"]) => {
            need_json(h)?;
            let f = &body["fields"];
            str_field(f, "project.key")?;
            str_field(f, "issuetype.name")?;
            let summary = str_field(f, "summary")?;
            if summary.len() > 255 {
                return Err("summary longer than 255 characters".into());
            }
            jira_text(version, &f["description"], "description")?;
            if let Some(labels) = f.get("labels") {
                let ok = labels.as_array().is_some_and(|l| {
                    l.iter().all(|x| {
                        x.as_str()
                            .is_some_and(|x| !x.is_empty() && !x.contains(' '))
                    })
                });
                if !ok {
                    return Ok(answer(
                        400,
                        json!({"errorMessages": [], "errors": {"labels": "Labels cannot contain spaces."}}),
                    ));
                }
            }
            if let Some(d) = f.get("duedate") {
                let ok = d
                    .as_str()
                    .is_some_and(|d| d.len() == 10 && d.as_bytes()[4] == b'-');
                if !ok {
                    return Err("duedate must be YYYY-MM-DD".into());
                }
            }
            s.next_id += 1;
            let key = format!("{}-{}", f["project"]["key"].as_str().unwrap(), s.next_id);
            let id = (10000 + s.next_id).to_string();
            let mut rec = f.clone();
            rec["status"] = json!("To Do");
            s.tickets.insert(key.clone(), rec);
            Ok(answer(
                201,
                json!({"id": id, "key": key, "self": format!("http://jira/rest/api/{version}/issue/{id}")}),
            ))
        }
        ("PUT", ["issue", key]) => {
            need_json(h)?;
            if !s.tickets.contains_key(*key) {
                return Ok(answer(
                    404,
                    json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}),
                ));
            }
            let f = body["fields"]
                .as_object()
                .ok_or("PUT issue needs `fields`")?;
            if f.contains_key("project") || f.contains_key("issuetype") {
                return Err("project/issuetype cannot be edited with PUT".into());
            }
            if let Some(d) = f.get("description") {
                jira_text(version, d, "description")?;
            }
            let t = s.tickets.get_mut(*key).unwrap();
            for (k, v) in f {
                t[k] = v.clone();
            }
            Ok(Response::builder().status(204).body(Body::empty()).unwrap())
        }
        ("POST", ["issue", key, "comment"]) => {
            need_json(h)?;
            if !s.tickets.contains_key(*key) {
                return Ok(answer(
                    404,
                    json!({"errorMessages": ["Issue does not exist"], "errors": {}}),
                ));
            }
            let t = jira_text(version, &body["body"], "body")?;
            s.comments.push((key.to_string(), t));
            Ok(answer(201, json!({"id": s.comments.len().to_string()})))
        }
        ("GET", ["issue", key, "transitions"]) => {
            let Some(t) = s.tickets.get(*key) else {
                return Ok(answer(
                    404,
                    json!({"errorMessages": ["Issue does not exist"], "errors": {}}),
                ));
            };
            let mut ts = vec![
                json!({"id": "11", "name": "To Do", "to": {"name": "To Do"}}),
                json!({"id": "21", "name": "In Progress", "to": {"name": "In Progress"}}),
            ];
            if t["status"] != "Done" {
                ts.push(json!({"id": "31", "name": "Done", "to": {"name": "Done"}}));
            }
            Ok(answer(
                200,
                json!({"expand": "transitions", "transitions": ts}),
            ))
        }
        ("POST", ["issue", key, "transitions"]) => {
            need_json(h)?;
            let id = str_field(body, "transition.id")?;
            let Some(t) = s.tickets.get_mut(*key) else {
                return Ok(answer(
                    404,
                    json!({"errorMessages": ["Issue does not exist"], "errors": {}}),
                ));
            };
            let to = match id {
                "11" => "To Do",
                "21" => "In Progress",
                "31" if t["status"] != "Done" => "Done",
                _ => {
                    return Ok(answer(
                        400,
                        json!({"errorMessages": ["Transition id is not valid for this issue."], "errors": {}}),
                    ));
                }
            };
            t["status"] = json!(to);
            Ok(Response::builder().status(204).body(Body::empty()).unwrap())
        }
        _ => Err(format!("no such Jira v{version} endpoint")),
    }
}

fn jira_search(s: &State, query: &str) -> Result<Response<Body>, String> {
    let jql = query_param(query, "jql").ok_or("search needs `jql`")?;
    let label = jql
        .split("labels = \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .ok_or_else(|| format!("unexpected JQL {jql}"))?;
    let issues: Vec<Value> = s
        .tickets
        .iter()
        .filter(|(_, t)| {
            t["labels"]
                .as_array()
                .is_some_and(|l| l.iter().any(|x| x == label))
        })
        .map(|(k, t)| json!({"id": "1", "key": k, "fields": {"status": {"name": t["status"]}}}))
        .collect();
    Ok(answer(
        200,
        json!({"issues": issues, "isLast": true, "total": issues.len()}),
    ))
}

#[allow(clippy::too_many_arguments)]
fn servicenow(
    s: &mut State,
    user: &str,
    password: &str,
    method: &Method,
    path: &str,
    query: &str,
    h: &HeaderMap,
    body: &Value,
) -> Result<Response<Body>, String> {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    );
    if header(h, "authorization") != Some(expected.as_str()) {
        return Ok(answer(
            401,
            json!({"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"}),
        ));
    }
    if !header(h, "accept").is_some_and(|a| a.contains("application/json")) {
        return Err("Accept must be application/json".into());
    }
    let Some(rest) = path.strip_prefix("/api/now/table/") else {
        return Err("path must start with /api/now/table/".into());
    };
    let segs: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segs.as_slice()) {
        ("GET", [_table]) => {
            let q = query_param(query, "sysparm_query").unwrap_or_default();
            let result: Vec<Value> = match q.strip_prefix("correlation_id=") {
                Some(c) => s
                    .tickets
                    .iter()
                    .filter(|(_, t)| t["correlation_id"] == c)
                    .map(|(id, t)| json!({"sys_id": id, "number": t["number"]}))
                    .collect(),
                None => s
                    .tickets
                    .keys()
                    .take(1)
                    .map(|id| json!({"sys_id": id}))
                    .collect(),
            };
            Ok(answer(200, json!({"result": result})))
        }
        ("POST", [_table]) => {
            need_json(h)?;
            str_field(body, "short_description")?;
            for f in ["urgency", "impact"] {
                if let Some(v) = body.get(f)
                    && !v.as_str().is_some_and(|v| ["1", "2", "3"].contains(&v))
                {
                    return Err(format!("`{f}` must be \"1\", \"2\" or \"3\""));
                }
            }
            s.next_id += 1;
            let sys_id = format!("{:032x}", s.next_id);
            let mut rec = body.clone();
            rec["sys_id"] = json!(sys_id);
            rec["number"] = json!(format!("INC{:07}", 10000 + s.next_id));
            rec["state"] = json!("1");
            s.tickets.insert(sys_id.clone(), rec.clone());
            Ok(answer(201, json!({"result": rec})))
        }
        ("PATCH" | "PUT", [_table, sys_id]) => {
            need_json(h)?;
            let Some(t) = s.tickets.get_mut(*sys_id) else {
                return Ok(answer(
                    404,
                    json!({"error": {"message": "No Record found", "detail": "Record doesn't exist or ACL restricts the record retrieval"}, "status": "failure"}),
                ));
            };
            let obj = body.as_object().ok_or("body must be an object")?;
            for (k, v) in obj {
                t[k] = v.clone();
            }
            let note = obj
                .get("work_notes")
                .and_then(Value::as_str)
                .map(String::from);
            let rec = t.clone();
            if let Some(n) = note {
                s.comments.push((sys_id.to_string(), n));
            }
            Ok(answer(200, json!({"result": rec})))
        }
        _ => Err("no such Table API endpoint".into()),
    }
}

fn glpi(
    s: &mut State,
    user_token: &str,
    app_token: Option<&str>,
    method: &Method,
    path: &str,
    h: &HeaderMap,
    body: &Value,
) -> Result<Response<Body>, String> {
    let Some(rest) = path.strip_prefix("/apirest.php/") else {
        return Err("path must start with /apirest.php/".into());
    };
    if let Some(a) = app_token
        && header(h, "app-token") != Some(a)
    {
        return Ok(answer(
            400,
            json!([
                "ERROR_WRONG_APP_TOKEN_PARAMETER",
                "parameter app_token seems wrong"
            ]),
        ));
    }
    if rest == "initSession" {
        if method != Method::GET {
            return Err("initSession is a GET".into());
        }
        if header(h, "authorization") != Some(&format!("user_token {user_token}")) {
            return Ok(answer(
                401,
                json!([
                    "ERROR_GLPI_LOGIN_USER_TOKEN",
                    "parameter user_token seems invalid"
                ]),
            ));
        }
        s.next_id += 1;
        let token = format!("sess{:026}", s.next_id);
        s.sessions.push(token.clone());
        return Ok(answer(200, json!({"session_token": token})));
    }
    let session = header(h, "session-token").unwrap_or("");
    if !s.sessions.iter().any(|t| t == session) {
        return Ok(answer(
            401,
            json!(["ERROR_SESSION_TOKEN_INVALID", "session_token seems invalid"]),
        ));
    }
    let segs: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["killSession"]) => {
            s.sessions.retain(|t| t != session);
            Ok(answer(200, json!([])))
        }
        ("GET", ["getFullSession"]) => Ok(answer(
            200,
            json!({"session": {"glpiname": "vantage", "glpiID": 7}}),
        )),
        ("POST", ["Ticket"]) => {
            need_json(h)?;
            let input = &body["input"];
            str_field(input, "name")?;
            str_field(input, "content")?;
            if let Some(u) = input.get("urgency")
                && !u.as_u64().is_some_and(|u| (1..=5).contains(&u))
            {
                return Err("urgency must be 1…5".into());
            }
            s.next_id += 1;
            let id = s.next_id;
            let mut rec = input.clone();
            rec["status"] = json!(1);
            s.tickets.insert(id.to_string(), rec);
            Ok(Response::builder()
                .status(201)
                .header("content-type", "application/json")
                .header("location", format!("/apirest.php/Ticket/{id}"))
                .body(Body::from(json!({"id": id, "message": ""}).to_string()))
                .unwrap())
        }
        ("PUT" | "PATCH", ["Ticket", id]) => {
            need_json(h)?;
            let input = body["input"].as_object().ok_or("PUT needs `input`")?;
            let Some(t) = s.tickets.get_mut(*id) else {
                return Ok(answer(
                    404,
                    json!(["ERROR_ITEM_NOT_FOUND", "Item not found"]),
                ));
            };
            for (k, v) in input {
                t[k] = v.clone();
            }
            Ok(answer(
                200,
                json!([{ id.to_string(): true, "message": "" }]),
            ))
        }
        ("POST", ["Ticket", id, "ITILFollowup"]) => {
            need_json(h)?;
            let input = &body["input"];
            if input["itemtype"] != "Ticket"
                || input["items_id"].as_u64().map(|n| n.to_string()).as_deref() != Some(*id)
            {
                return Err(
                    "ITILFollowup input needs itemtype Ticket and the ticket's items_id".into(),
                );
            }
            let content = str_field(input, "content")?.to_string();
            if !s.tickets.contains_key(*id) {
                return Ok(answer(
                    404,
                    json!(["ERROR_ITEM_NOT_FOUND", "Item not found"]),
                ));
            }
            s.comments.push((id.to_string(), content));
            s.next_id += 1;
            Ok(answer(201, json!({"id": s.next_id, "message": ""})))
        }
        _ => Err("no such GLPI endpoint".into()),
    }
}

fn teams(
    s: &mut State,
    method: &Method,
    path: &str,
    h: &HeaderMap,
    body: &Value,
) -> Result<Response<Body>, String> {
    if method != Method::POST || !path.ends_with("/SECRETSIG") {
        return Ok(text(404, "Not Found"));
    }
    need_json(h)?;
    if body["type"] != "message" {
        return Err("the payload must be a `message`".into());
    }
    let att = body["attachments"]
        .as_array()
        .ok_or("`attachments` must be an array")?;
    let card = att.first().ok_or("no attachment")?;
    if card["contentType"] != "application/vnd.microsoft.card.adaptive" {
        return Err(
            "attachment contentType must be application/vnd.microsoft.card.adaptive".into(),
        );
    }
    let c = &card["content"];
    if c["type"] != "AdaptiveCard" || !c["version"].is_string() || !c["body"].is_array() {
        return Err("content must be an AdaptiveCard with a version and a body".into());
    }
    for el in c["body"].as_array().unwrap() {
        match el["type"].as_str() {
            Some("TextBlock") if el["text"].is_string() => {}
            Some("FactSet")
                if el["facts"].as_array().is_some_and(|f| {
                    f.iter()
                        .all(|x| x["title"].is_string() && x["value"].is_string())
                }) => {}
            _ => return Err(format!("unsupported card element {el}")),
        }
    }
    s.messages.push(body.clone());
    Ok(text(200, "1"))
}

fn slack(
    s: &mut State,
    method: &Method,
    path: &str,
    h: &HeaderMap,
    body: &Value,
) -> Result<Response<Body>, String> {
    if method != Method::POST || !path.ends_with("/XXXXSECRETXXXX") {
        return Ok(text(404, "no_service"));
    }
    need_json(h)?;
    let has_text = body["text"].as_str().is_some_and(|t| !t.is_empty());
    if !has_text && !body["blocks"].is_array() {
        return Ok(text(400, "no_text"));
    }
    if let Some(blocks) = body["blocks"].as_array() {
        if blocks.len() > 50 {
            return Ok(text(400, "invalid_blocks"));
        }
        for b in blocks {
            match b["type"].as_str() {
                Some("header")
                    if b["text"]["type"] == "plain_text"
                        && b["text"]["text"]
                            .as_str()
                            .is_some_and(|t| t.chars().count() <= 150) => {}
                Some("section")
                    if b["text"]["text"]
                        .as_str()
                        .is_some_and(|t| t.chars().count() <= 3000)
                        || b["fields"].as_array().is_some_and(|f| f.len() <= 10) => {}
                _ => return Ok(text(400, "invalid_blocks")),
            }
        }
    }
    s.messages.push(body.clone());
    Ok(text(200, "ok"))
}

fn webhook(
    s: &mut State,
    key: &str,
    method: &Method,
    h: &HeaderMap,
    bytes: &[u8],
) -> Result<Response<Body>, String> {
    use sha2::Digest;
    if method != Method::POST {
        return Err("webhooks are POSTed".into());
    }
    need_json(h)?;
    let ts: i64 = header(h, "x-vantage-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or("X-Vantage-Timestamp missing")?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if (now - ts).abs() > 300 {
        return Ok(answer(401, json!({"error": "stale timestamp"})));
    }
    header(h, "x-vantage-event").ok_or("X-Vantage-Event missing")?;
    let sig = header(h, "x-vantage-signature").ok_or("X-Vantage-Signature missing")?;
    // HMAC-SHA256 computed here from its definition (RFC 2104), independently of the code under test.
    let mut k = key.as_bytes().to_vec();
    if k.len() > 64 {
        k = sha2::Sha256::digest(&k).to_vec();
    }
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let mut inner = sha2::Sha256::new();
    inner.update(&ipad);
    inner.update(ts.to_string().as_bytes());
    inner.update(b".");
    inner.update(bytes);
    let mut outer = sha2::Sha256::new();
    outer.update(&opad);
    outer.update(inner.finalize());
    let want: String = outer
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if sig != format!("sha256={want}") {
        return Ok(answer(401, json!({"error": "bad signature"})));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("body is not JSON: {e}"))?;
    s.messages.push(v);
    Ok(Response::builder().status(204).body(Body::empty()).unwrap())
}
