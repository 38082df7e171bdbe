//! The dashboard in headless Chromium: ask for the token, filter to errors,
//! resend one record and see its status change; the record panel (runs,
//! links, raw JSON behind a toggle), per-object totals, the mapping, a date
//! filter and the export of the filtered list; screenshots saved to
//! `tests/artifacts/` (and `docs/` with `SFSYNC_UPDATE_SCREENSHOTS=1`).

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
    let untouched = format!("Contact/{}", contact_id(8));
    assert_eq!(
        browser.eval(&format!("return document.querySelector('tr[data-record=\"{untouched}\"] td.status').textContent")).expect("eval"),
        "error",
        "only the selected record was resent"
    );
    let v = app.admin_get(&format!("/admin/records/{target}")).json();
    assert_eq!(
        (v["status"].as_str(), v["last_trigger"].as_str()),
        (Some("synced"), Some("resend"))
    );

    // The detail view: a readable panel, the runs that wrote the record,
    // links out, raw JSON behind a toggle.
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
    browser
        .wait_for("the runs that wrote it", "return [...document.querySelectorAll('#d-runs li')].some(li => li.textContent.includes('resend')) && [...document.querySelectorAll('#d-runs li')].some(li => li.textContent.includes('created'))")
        .expect("runs of the record");
    let panel = browser
        .eval("return [document.querySelector('#d-status').textContent, document.querySelector('#d-attempts').textContent, document.querySelector('#d-sf a')?.href, document.querySelector('#d-raw').open]")
        .expect("panel");
    assert_eq!(panel[0], "synced", "{panel}");
    assert!(
        panel[1].as_str().unwrap_or_default().starts_with("2 ("),
        "two attempts: {panel}"
    );
    assert_eq!(
        panel[2].as_str().unwrap_or_default(),
        format!("https://example.my.salesforce.com/{}", contact_id(7)),
        "a link to the record in Salesforce, from the message's URL"
    );
    assert_eq!(panel[3], false, "raw JSON is behind a toggle");
    assert_eq!(
        browser.eval("return document.querySelector('#d-json').textContent.includes('\"salesforce_id\"')").expect("eval"),
        true
    );
    save_screenshot(&browser, "dashboard-record.png");

    // The other failing record's last error, in full, in the panel.
    let other = format!("Contact/{}", contact_id(8));
    browser
        .click(&format!("tr[data-record=\"{other}\"] td:nth-child(2)"))
        .expect("open the other");
    browser
        .wait_for("its error in full", "return !document.querySelector('#d-error-box').hidden && document.querySelector('#d-error').textContent.includes('required')")
        .expect("error panel");

    // Per-object totals, the active mapping with its validation.
    assert_eq!(
        browser
            .eval("return document.querySelector('#objects tr[data-object=Contact] td:nth-child(2)').textContent")
            .expect("eval"),
        "5"
    );
    browser
        .wait_for("the mapping", "return document.querySelector('#mapping-text').textContent.includes('[objects.Contact]') && document.querySelector('#mapping-valid').textContent === 'valid'")
        .expect("mapping");

    // A date filter: nothing was attempted in 2001.
    browser
        .eval("document.querySelector('#f-status').value = ''; document.querySelector('#f-since').value = '2001-01-01'; document.querySelector('#f-until').value = '2001-12-31'; return true")
        .expect("dates");
    browser.click("#apply").expect("filter");
    browser
        .wait_for("no rows in 2001", "return document.querySelectorAll('#records tbody tr').length === 0 && document.querySelector('#list-msg').textContent.includes('No records')")
        .expect("date filter");
    browser
        .eval("document.querySelector('#f-since').value = ''; document.querySelector('#f-until').value = ''; document.querySelector('#f-status').value = 'error'; return true")
        .expect("errors again");
    browser.click("#apply").expect("filter");
    browser
        .wait_for(
            "one error row",
            "return document.querySelectorAll('#records tbody tr').length === 1",
        )
        .expect("error filter");

    // Export of the filtered list: what the page downloads is the CSV of
    // that filter.
    browser
        .eval("window.__exported = null; const orig = URL.createObjectURL; URL.createObjectURL = (b) => { b.text().then(t => window.__exported = t); return orig(b); }; return true")
        .expect("watch the download");
    browser.click("#export").expect("export");
    browser
        .wait_for("the CSV", "return window.__exported !== null")
        .expect("exported");
    let csv = browser.eval("return window.__exported").expect("csv");
    let csv = csv.as_str().unwrap_or_default();
    assert!(csv.starts_with("object,salesforce_id,"), "{csv}");
    assert_eq!(
        csv.lines().count(),
        2,
        "the header and the one error: {csv}"
    );
    assert!(csv.contains(&contact_id(8)), "{csv}");

    save_screenshot(&browser, "dashboard.png");
}

/// Save a screenshot to tests/artifacts/, and to docs/ (the README's) with
/// SFSYNC_UPDATE_SCREENSHOTS=1.
fn save_screenshot(browser: &Browser, name: &str) {
    let png = browser.screenshot().expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let root = sfsync_tests::app::root();
    let dir = root.join("tests/artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    std::fs::write(dir.join(name), &png).expect("save the screenshot");
    if std::env::var_os("SFSYNC_UPDATE_SCREENSHOTS").is_some() {
        std::fs::write(root.join("docs").join(name), &png).expect("save to docs/");
    }
}
