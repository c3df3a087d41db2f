//! The nginx site of an app: every request to the release's container on
//! loopback. A switch is a new file and a graceful reload: nginx's old
//! workers finish the requests they hold, new ones go to the new release.

/// A certificate and key already on the host (e.g. from certbot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    pub certificate: String,
    pub key: String,
}

pub fn site(app: &str, release: u32, port: u16, hostnames: &[String], tls: Option<&Tls>) -> String {
    let upstream = format!("ferry_{}", app.replace('-', "_"));
    let names = if hostnames.is_empty() { "_".to_string() } else { hostnames.join(" ") };
    let location = format!(
        "    location / {{\n        proxy_pass http://{upstream};\n        proxy_http_version 1.1;\n        proxy_set_header Connection \"\";\n        \
         proxy_set_header Host $host;\n        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n        \
         proxy_set_header X-Forwarded-Proto $scheme;\n    }}\n"
    );
    let mut out = format!(
        "# written by ferry: {app} release {release} on 127.0.0.1:{port}\n\
         upstream {upstream} {{\n    server 127.0.0.1:{port};\n    keepalive 16;\n}}\n\n\
         server {{\n    listen 80;\n    server_name {names};\n\n{location}}}\n"
    );
    if let Some(tls) = tls {
        out.push_str(&format!(
            "\nserver {{\n    listen 443 ssl;\n    server_name {names};\n    ssl_certificate {};\n    ssl_certificate_key {};\n\n{location}}}\n",
            tls.certificate, tls.key
        ));
    }
    out
}
