//! Just enough WebDriver to drive the dashboard in headless Chromium:
//! start `chromedriver` on 127.0.0.1, open a session, find, type, click,
//! run a script, take a screenshot. Stops the driver when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use base64::Engine as _;
use serde_json::{json, Value};

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

impl Browser {
    /// Start chromedriver and a headless Chromium session.
    pub fn start() -> Result<Browser> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {driver_bin}: install Debian's chromium and chromium-driver (scripts/test does)"))?;
        let base = format!("http://127.0.0.1:{port}");
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(&format!("{base}/status")).call().is_err() {
            if Instant::now() > deadline {
                bail!("chromedriver did not start on {base}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let profile = std::env::temp_dir().join(format!("sfsync-chromium-{port}"));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--window-size=1366,900", format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut b = Browser {
            driver,
            base,
            session: String::new(),
            agent,
        };
        let v = b.call("POST", "/session", Some(caps))?;
        b.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("no session: {v}"))?
            .to_string();
        Ok(b)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let req = self.agent.request(method, &url);
        let resp = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let resp = match resp {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => bail!("webdriver {method} {path}: {e}"),
        };
        let status = resp.status();
        let v: Value = resp.into_json()?;
        if status >= 400 {
            bail!("webdriver {method} {path}: {}", v["value"]);
        }
        Ok(v.get("value").cloned().unwrap_or(v))
    }

    fn s(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    pub fn goto(&self, url: &str) -> Result<()> {
        self.call("POST", &self.s("/url"), Some(json!({ "url": url })))
            .map(|_| ())
    }

    /// The element for a CSS selector.
    pub fn find(&self, css: &str) -> Result<String> {
        let v = self.call(
            "POST",
            &self.s("/element"),
            Some(json!({"using": "css selector", "value": css})),
        )?;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no element {css}"))
    }

    pub fn click(&self, css: &str) -> Result<()> {
        let id = self.find(css)?;
        self.call(
            "POST",
            &self.s(&format!("/element/{id}/click")),
            Some(json!({})),
        )
        .map(|_| ())
    }

    pub fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let id = self.find(css)?;
        self.call(
            "POST",
            &self.s(&format!("/element/{id}/value")),
            Some(json!({ "text": text })),
        )
        .map(|_| ())
    }

    /// Run a script in the page and return its value.
    pub fn eval(&self, script: &str) -> Result<Value> {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Wait until a script returns a truthy value.
    pub fn wait_for(&self, what: &str, script: &str) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.eval(script)?;
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG screenshot of the page.
    pub fn screenshot(&self) -> Result<Vec<u8>> {
        let v = self.call("GET", &self.s("/screenshot"), None)?;
        let b64 = v.as_str().ok_or_else(|| anyhow!("no screenshot"))?;
        Ok(base64::engine::general_purpose::STANDARD.decode(b64)?)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
