//! Spin's HTTP routing: exact routes and trailing wildcards (`/...` or `/*`),
//! plus `:name` segments. Leading and trailing slashes are ignored; the most
//! specific route wins whatever the manifest order (compared segment by
//! segment: a literal beats `:param`, which beats a wildcard; when one route
//! is a prefix of the other the shorter wins); equal shapes keep manifest
//! order.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Wildcard,
}

#[derive(Debug, Clone)]
pub struct Route {
    /// As written in spin.toml.
    pub raw: String,
    pub component: String,
    segments: Vec<Segment>,
}

/// A matched route and what Spin tells the component about it.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    pub component: String,
    pub raw_route: String,
    /// The part matched by a trailing wildcard (empty for other routes).
    pub path_info: String,
    pub params: Vec<(String, String)>,
}

impl Route {
    pub fn new(raw: &str, component: &str) -> Route {
        let trimmed = raw.trim_matches('/');
        let mut segments: Vec<Segment> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed
                .split('/')
                .map(|s| match s {
                    "..." | "*" => Segment::Wildcard,
                    p if p.starts_with(':') => Segment::Param(p[1..].to_string()),
                    l => Segment::Literal(l.to_string()),
                })
                .collect()
        };
        // Only a trailing wildcard means anything to Spin.
        if let Some(pos) = segments.iter().position(|s| *s == Segment::Wildcard) {
            segments.truncate(pos + 1);
        }
        Route {
            raw: raw.to_string(),
            component: component.to_string(),
            segments,
        }
    }

    fn is_wildcard(&self) -> bool {
        self.segments.last() == Some(&Segment::Wildcard)
    }

    fn matches(&self, path: &str) -> Option<RouteMatch> {
        let trimmed = path.trim_matches('/');
        let parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        let fixed = if self.is_wildcard() {
            &self.segments[..self.segments.len() - 1]
        } else {
            &self.segments[..]
        };
        if parts.len() < fixed.len() || (!self.is_wildcard() && parts.len() != fixed.len()) {
            return None;
        }
        let mut params = Vec::new();
        for (seg, part) in fixed.iter().zip(&parts) {
            match seg {
                Segment::Literal(l) if l == part => {}
                Segment::Param(name) => params.push((name.clone(), part.to_string())),
                _ => return None,
            }
        }
        let path_info = if self.is_wildcard() {
            // What follows the fixed prefix in the raw path, slashes kept.
            let mut rest = path;
            for part in &parts[..fixed.len()] {
                rest = rest.trim_start_matches('/');
                rest = rest.get(part.len()..).unwrap_or_default();
            }
            rest.to_string()
        } else {
            String::new()
        };
        Some(RouteMatch {
            component: self.component.clone(),
            raw_route: self.raw.clone(),
            path_info,
            params,
        })
    }

    /// Which of two matching routes is more specific (`Less` = `self` wins).
    fn specificity(&self, other: &Route) -> Ordering {
        let rank = |s: &Segment| match s {
            Segment::Literal(_) => 0,
            Segment::Param(_) => 1,
            Segment::Wildcard => 2,
        };
        for (a, b) in self.segments.iter().zip(&other.segments) {
            let c = rank(a).cmp(&rank(b));
            if c != Ordering::Equal {
                return c;
            }
        }
        self.segments.len().cmp(&other.segments.len())
    }
}

/// All routes of an app.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    pub fn new(routes: impl IntoIterator<Item = (String, String)>) -> Router {
        Router {
            routes: routes
                .into_iter()
                .map(|(r, c)| Route::new(&r, &c))
                .collect(),
        }
    }

    /// The route a request path goes to, if any.
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let mut best: Option<&Route> = None;
        for route in &self.routes {
            if route.matches(path).is_none() {
                continue;
            }
            best = match best {
                Some(b) if route.specificity(b) != Ordering::Less => Some(b),
                _ => Some(route),
            };
        }
        best.and_then(|r| r.matches(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new(
            [
                ("/admin/...", "admin"),
                ("/sf/created", "created"),
                ("/admin/resend", "resend"),
                ("/admin/x/...", "deeper"),
                ("/users/:id", "user"),
            ]
            .map(|(r, c)| (r.to_string(), c.to_string())),
        )
    }

    #[test]
    fn most_specific_route_wins() {
        let r = router();
        let cases = [
            ("/sf/created", Some(("created", ""))),
            ("/sf/created/", Some(("created", ""))),
            ("/sf/created/x", None),
            ("/SF/created", None),
            ("/admin/resend", Some(("resend", ""))),
            ("/admin/resend/", Some(("resend", ""))),
            ("/admin/stats", Some(("admin", "/stats"))),
            (
                "/admin/records/Contact/003",
                Some(("admin", "/records/Contact/003")),
            ),
            ("/admin", Some(("admin", ""))),
            ("/admin/", Some(("admin", "/"))),
            ("/adminx", None),
            ("/admin/x/y", Some(("deeper", "/y"))),
            ("/users/42", Some(("user", ""))),
            ("/", None),
        ];
        for (path, want) in cases {
            let got = r.route(path).map(|m| (m.component, m.path_info));
            let want = want.map(|(c, p)| (c.to_string(), p.to_string()));
            assert_eq!(got, want, "{path}");
        }
    }
}
