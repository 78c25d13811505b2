//! A browser as far as the sign-in flow needs one, over real HTTP: a cookie jar, redirects seen (not followed),
//! and the forms of a page read and submitted the way a browser submits them. The real-browser tests drive
//! Chromium; this one lets the protocol tests read every status and header.

use std::collections::BTreeMap;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use super::form;

/// One response.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    pub url: String,
}

/// A form of a page: where it posts and its fields (hidden ones with their values; others empty), and its
/// submit buttons' name and value.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
    pub buttons: Vec<(String, String)>,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every form of the page.
    pub fn forms(&self) -> Vec<Form> {
        let mut forms = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(start) = rest.find("<form") {
            let end = rest[start..]
                .find("</form>")
                .map_or(rest.len(), |e| start + e);
            let html = &rest[start..end];
            let tag_end = html.find('>').unwrap_or(html.len());
            let action = attribute(&html[..tag_end], "action").unwrap_or_default();
            let mut fields = Vec::new();
            let mut buttons = Vec::new();
            for (tag, kind) in tags(html, "<input")
                .into_iter()
                .map(|t| (t, "input"))
                .chain(tags(html, "<button").into_iter().map(|t| (t, "button")))
            {
                let Some(name) = attribute(tag, "name") else {
                    continue;
                };
                let value = attribute(tag, "value").unwrap_or_default();
                if kind == "button" {
                    buttons.push((name, value));
                } else {
                    fields.push((name, value));
                }
            }
            forms.push(Form {
                action,
                fields,
                buttons,
            });
            rest = &rest[end..];
        }
        forms
    }

    /// The form posting to a URL ending in `action`.
    pub fn form(&self, action: &str) -> Form {
        self.forms()
            .into_iter()
            .find(|f| f.action.ends_with(action))
            .unwrap_or_else(|| panic!("no form posting to {action} in:\n{}", self.body))
    }

    /// The query parameters of the redirect's location.
    pub fn redirect_params(&self) -> BTreeMap<String, String> {
        let location = self
            .location()
            .unwrap_or_else(|| panic!("not a redirect: {} {}", self.status, self.body));
        let url = url::Url::parse(location).expect("an absolute location");
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

fn tags<'h>(html: &'h str, open: &str) -> Vec<&'h str> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(open) {
        let end = rest[start..]
            .find('>')
            .map_or(rest.len(), |e| start + e + 1);
        found.push(&rest[start..end]);
        rest = &rest[end..];
    }
    found
}

/// An attribute's value, entity-decoded as a browser would.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// Decodes the character references an HTML escaper writes: the named ones for `"&'<>` and numeric ones.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Form {
    /// The fields with `set` replacing or adding values, and `button` (name, value) when given.
    pub fn with(&self, set: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = self
            .fields
            .iter()
            .filter(|(n, _)| !set.iter().any(|(s, _)| s == n))
            .cloned()
            .collect();
        fields.extend(set.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())));
        fields
    }
}

/// A cookie jar and an HTTP client that does not follow redirects.
pub struct Agent {
    pub client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    pub origin: String,
}

impl Agent {
    pub fn new(origin: &str) -> Agent {
        Agent {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
            origin: origin.to_owned(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, headers: &HeaderMap) {
        for set in headers.get_all(SET_COOKIE) {
            let set = set.to_str().expect("ascii cookie");
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn finish(&mut self, url: &str, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.absorb(&headers);
        Page {
            status,
            headers,
            body: response.text().await.expect("body"),
            url: url.to_owned(),
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let response = self
            .client
            .get(url)
            .header("cookie", self.cookie_header())
            .header("user-agent", "waxseal-test-agent/1.0")
            .send()
            .await
            .expect("GET");
        self.finish(url, response).await
    }

    /// Posts `fields` form-encoded to `action` (relative to the origin when it starts with `/`), with the
    /// origin's `Origin` header as a browser sends it.
    pub async fn post(&mut self, action: &str, fields: &[(String, String)]) -> Page {
        let url = if action.starts_with('/') {
            format!("{}{action}", self.origin)
        } else {
            action.to_owned()
        };
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let response = self
            .client
            .post(&url)
            .header("cookie", self.cookie_header())
            .header("origin", &self.origin)
            .header("user-agent", "waxseal-test-agent/1.0")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&pairs))
            .send()
            .await
            .expect("POST");
        self.finish(&url, response).await
    }

    /// Submits `form` with `set` and, when given, the button `(name, value)`.
    pub async fn submit(&mut self, form: &Form, set: &[(&str, &str)]) -> Page {
        let fields = form.with(set);
        self.post(&form.action, &fields).await
    }
}

/// A PKCE pair: (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("random");
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    (verifier, challenge)
}
