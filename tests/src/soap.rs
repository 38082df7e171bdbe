//! Outbound Messages for tests, written the way Salesforce writes them.

/// One record to put in a notification: `(field, Some(value) | None for nil)`.
pub struct Record<'a> {
    pub object: &'a str,
    pub notification_id: String,
    pub fields: Vec<(&'a str, Option<String>)>,
}

/// XML-escape a value.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A whole Outbound Message from `org_id` with these records.
pub fn message(org_id: &str, records: &[Record]) -> String {
    let mut notifications = String::new();
    for r in records {
        notifications.push_str(&format!(
            "   <Notification>\n    <Id>{}</Id>\n    <sObject xsi:type=\"sf:{}\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">\n",
            r.notification_id, r.object
        ));
        for (name, value) in &r.fields {
            match value {
                Some(v) => {
                    notifications.push_str(&format!("     <sf:{name}>{}</sf:{name}>\n", escape(v)))
                }
                None => notifications.push_str(&format!("     <sf:{name} xsi:nil=\"true\"/>\n")),
            }
        }
        notifications.push_str("    </sObject>\n   </Notification>\n");
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org_id}</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId>00D000000000062!AQ0AQE2ESESSIONSECRET</SessionId>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/62.0/00D000000000062</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/62.0/00D000000000062</PartnerUrl>
{notifications}  </notifications>
 </soapenv:Body>
</soapenv:Envelope>
"#
    )
}

/// A Contact notification with the default mapping's fields.
pub fn contact(n: usize, email: &str) -> Record<'static> {
    Record {
        object: "Contact",
        notification_id: format!("04l{n:015}"),
        fields: vec![
            ("Id", Some(contact_id(n))),
            ("AccountId", Some("001000000000001AAA".into())),
            ("Email", Some(email.into())),
            ("FirstName", Some(format!("Ana{n}"))),
            ("LastName", Some("Lima".into())),
            ("Phone", None),
            ("LastModifiedDate", Some("2026-11-20T10:15:00.000Z".into())),
        ],
    }
}

/// A Contact without an Account (nothing to wait for on Zendesk).
pub fn lone_contact(n: usize, email: &str) -> Record<'static> {
    let mut r = contact(n, email);
    r.fields.retain(|(k, _)| *k != "AccountId");
    r
}

/// The 18-character id of test Contact `n`.
pub fn contact_id(n: usize) -> String {
    format!("003{n:012}AAA")
}
