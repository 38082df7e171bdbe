//! The dashboard in headless Chromium: ask for the token, filter to errors,
//! resend one record and see its status change; save a screenshot to
//! `tests/artifacts/dashboard.png`.

use sfsync_tests::app::{bundled_contact_mapping, TestApp, ADMIN_TOKEN, ORG_ID};
use sfsync_tests::soap::{contact, contact_id, message};
use sfsync_tests::webdriver::Browser;

#[test]
fn filter_to_errors_resend_one_and_see_it_synced() {
    let app = TestApp::start();
    // Three synced Contacts and two that fail the mapping (no name).
    let mut records: Vec<_> = (1..=3)
        .map(|n| contact(n, &format!("user{n}@example.com")))
        .collect();
    for n in [7, 8] {
        let mut r = contact(n, &format!("nameless{n}@example.com"));
        r.fields
            .retain(|(k, _)| !matches!(*k, "FirstName" | "LastName"));
        records.push(r);
    }
    assert!(app
        .send_message("/sf/created", &message(ORG_ID, &records))
        .text()
        .contains("<Ack>true</Ack>"));
    // Fix the mapping so that a resend heals them.
    let fixed = bundled_contact_mapping().replace(", required = true", "");
    assert_eq!(
        app.admin("PUT", "/admin/mapping", "application/toml", fixed)
            .status,
        200
    );

    let (base, _listener) = app.listen();
    let page = app.request(sfsync_tests::host::TestRequest {
        method: "GET".into(),
        path_and_query: "/admin/".into(),
        ..Default::default()
    });
    assert_eq!(page.status, 200, "the page loads without a token");
    assert!(page
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert!(
        !page.text().contains("http://") && !page.text().contains("https://"),
        "no external assets"
    );

    let browser =
        Browser::start().expect("headless Chromium (apt-get install chromium chromium-driver)");
    browser
        .goto(&format!("{base}/admin/"))
        .expect("open the dashboard");
    browser
        .wait_for(
            "the token form",
            "return !document.querySelector('#login').hidden",
        )
        .expect("login");
    browser.type_into("#token", ADMIN_TOKEN).expect("type");
    browser.click("#login-form button").expect("open");
    browser
        .wait_for("the totals", "return document.querySelector('#totals .card[data-status=error] b')?.textContent === '2'")
        .expect("totals");
    assert_eq!(
        browser
            .eval("return sessionStorage.getItem('sfsync-token')")
            .expect("eval"),
        ADMIN_TOKEN
    );

    // Filter to errors.
    browser
        .eval("document.querySelector('#f-status').value = 'error'; return true")
        .expect("select");
    browser.click("#apply").expect("filter");
    browser
        .wait_for("two error rows", "return document.querySelectorAll('#records tbody tr').length === 2 && [...document.querySelectorAll('#records tbody td.status')].every(td => td.textContent === 'error')")
        .expect("error rows");
    let target = format!("Contact/{}", contact_id(7));
    let err_text = browser
        .eval(&format!(
            "return document.querySelector('tr[data-record=\"{target}\"] td.err').textContent"
        ))
        .expect("error text");
    assert!(
        err_text.as_str().unwrap_or_default().contains("required"),
        "{err_text}"
    );

    // Select one, resend it, and see its status change.
    browser
        .click(&format!("tr[data-record=\"{target}\"] input.pick"))
        .expect("select row");
    browser.click("#resend-selected").expect("resend");
    browser
        .wait_for("the row to turn synced", &format!("return document.querySelector('tr[data-record=\"{target}\"] td.status').textContent === 'synced'"))
        .expect("synced");
    browser
        .wait_for("the totals to update", "return document.querySelector('#totals .card[data-status=error] b')?.textContent === '1'")
        .expect("totals update");
    let other = format!("Contact/{}", contact_id(8));
    assert_eq!(
        browser.eval(&format!("return document.querySelector('tr[data-record=\"{other}\"] td.status').textContent")).expect("eval"),
        "error",
        "only the selected record was resent"
    );
    let v = app.admin_get(&format!("/admin/records/{target}")).json();
    assert_eq!(
        (v["status"].as_str(), v["last_trigger"].as_str()),
        (Some("synced"), Some("resend"))
    );

    // The detail view and the run history.
    browser
        .click(&format!("tr[data-record=\"{target}\"] td:nth-child(2)"))
        .expect("open detail");
    browser
        .wait_for(
            "the detail view",
            &format!("return document.querySelector('#detail-title').textContent === '{target}'"),
        )
        .expect("detail");
    browser
        .wait_for("a resend run", "return [...document.querySelectorAll('#runs tbody td')].some(td => td.textContent === 'resend')")
        .expect("runs");

    let png = browser.screenshot().expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let dir = sfsync_tests::app::root().join("tests/artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    std::fs::write(dir.join("dashboard.png"), png).expect("save the screenshot");
}
