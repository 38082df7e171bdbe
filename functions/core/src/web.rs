//! The HTTP request and response as the core sees them: plain data that each
//! function converts from and to spin-sdk's types, so every decision about a
//! request (auth, routing, status codes, bodies) is made and tested here.

/// An incoming request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Upper-case method, e.g. `POST`.
    pub method: String,
    /// The path without the query, e.g. `/admin/records/Contact/003…`.
    pub path: String,
    /// The raw query string without `?` (may be empty).
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A secret query parameter (`?token=`) as sent: `%XX` escapes decoded,
    /// `+` kept as `+` (Salesforce sends the endpoint URL as it was typed,
    /// not form-encoded). The first one wins.
    pub fn token_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == name).then(|| decode_escapes(v, false))
        })
    }

    /// A query parameter, percent-decoded (`+` is a space). The first one wins.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == name).then(|| percent_decode(v))
        })
    }
}

/// Decode `%XX` escapes and `+`; invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    decode_escapes(s, true)
}

fn decode_escapes(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An outgoing response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What went wrong, in the words the caller was given, for the log
    /// line ([`crate::log`]); never sent.
    pub reason: Option<String>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            reason: None,
        }
    }

    /// A JSON body.
    pub fn json(status: u16, value: &impl serde::Serialize) -> Response {
        match serde_json::to_vec(value) {
            Ok(body) => Response::new(status, "application/json", body),
            Err(e) => Response::error(500, &format!("could not render the response: {e}")),
        }
    }

    /// `{"error": message}`, for a body that could not be rendered; the
    /// admin API's errors go through `admin::error::AdminError`.
    fn error(status: u16, message: &str) -> Response {
        let body = serde_json::json!({ "error": message }).to_string();
        Response::new(status, "application/json", body)
    }

    /// A SOAP answer (Ack or Fault) for Salesforce.
    pub fn soap(status: u16, xml: String) -> Response {
        Response::new(status, "text/xml; charset=utf-8", xml)
    }

    /// The same, with the reason its log line gives.
    pub fn with_reason(mut self, reason: &str) -> Response {
        self.reason = Some(reason.to_string());
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// Percent-encode a path segment (everything but unreserved characters).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let req = Request {
            query: "token=a%2Bb%3D&x=1&q=ana+lima&token=second&bad=%zz&end=%4".into(),
            ..Request::default()
        };
        assert_eq!(req.query_param("token").as_deref(), Some("a+b="));
        assert_eq!(req.query_param("q").as_deref(), Some("ana lima"));
        assert_eq!(req.query_param("bad").as_deref(), Some("%zz"));
        assert_eq!(req.query_param("end").as_deref(), Some("%4"));
        assert_eq!(req.query_param("missing"), None);
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(percent_encode("Contact/003 x?#"), "Contact%2F003%20x%3F%23");
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
    }
}
