//! The nginx site of an app: every request to the release's container on
//! loopback. A switch is a new file and a graceful reload: nginx's old
//! workers finish the requests they hold, new ones go to the new release.
//! Port 80 always serves `/.well-known/acme-challenge/` from a directory on
//! the host, so `certbot certonly --webroot` can issue and renew the
//! certificate the site then uses, without editing a file ferry rewrites.

/// A certificate and key already on the host (e.g. from certbot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    pub certificate: String,
    pub key: String,
}

/// Where the ACME challenges of every app on a host are served from.
pub fn acme_dir(root: &str) -> String {
    format!("{root}/acme")
}

/// One app's site, as a release's switch writes it.
#[derive(Clone, Debug)]
pub struct Site<'a> {
    pub app: &'a str,
    pub release: u32,
    /// The release's port on 127.0.0.1.
    pub port: u16,
    /// `server_name`s; empty answers every name.
    pub hostnames: &'a [String],
    pub tls: Option<&'a Tls>,
    /// The webroot of ACME HTTP-01 challenges (`<root>/acme`).
    pub acme_dir: &'a str,
    /// fly.toml's `force_https`: port 80 redirects (only with a certificate).
    pub force_https: bool,
}

impl Site<'_> {
    pub fn render(&self) -> String {
        let (app, release, port) = (self.app, self.release, self.port);
        let upstream = format!("ferry_{}", app.replace('-', "_"));
        let names = if self.hostnames.is_empty() { "_".to_string() } else { self.hostnames.join(" ") };
        let proxy = format!(
            "    location / {{\n        proxy_pass http://{upstream};\n        proxy_http_version 1.1;\n        proxy_set_header Connection \"\";\n        \
             proxy_set_header Host $host;\n        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n        \
             proxy_set_header X-Forwarded-Proto $scheme;\n    }}\n"
        );
        let acme = format!("    location ^~ /.well-known/acme-challenge/ {{\n        root {};\n    }}\n", self.acme_dir);
        let plain = if self.redirects() { "    location / {\n        return 301 https://$host$request_uri;\n    }\n".to_string() } else { proxy.clone() };
        let mut out = format!(
            "# written by ferry: {app} release {release} on 127.0.0.1:{port}\n\
             upstream {upstream} {{\n    server 127.0.0.1:{port};\n    keepalive 16;\n}}\n\n\
             server {{\n    listen 80;\n    server_name {names};\n\n{acme}{plain}}}\n"
        );
        if let Some(tls) = self.tls {
            out.push_str(&format!(
                "\nserver {{\n    listen 443 ssl;\n    server_name {names};\n    ssl_certificate {};\n    ssl_certificate_key {};\n\n{proxy}}}\n",
                tls.certificate, tls.key
            ));
        }
        out
    }

    /// Whether port 80 sends browsers to 443: fly.toml asks for it and
    /// there is a certificate to send them to.
    pub fn redirects(&self) -> bool {
        self.force_https && self.tls.is_some()
    }
}
