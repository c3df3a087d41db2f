//! The checkout's deploy workflows, moved from `fly deploy` to ferry: the
//! step that ran flyctl runs ferry's action instead (its `vm-deploy` step
//! in ferry.toml deploys to the host on a push, and plans on a pull
//! request), flyctl's setup step goes, and the Fly token's variable is
//! replaced by the host's key and pinned host keys from the repository's
//! secrets. Everything else in a file stays as written. Shapes matched:
//! flyctl's generated `fly-deploy.yml` and Fly's CD guide (`off-fly.md`
//! §4.1): `superfly/flyctl-actions`, `flyctl`/`fly` + `deploy`, and
//! `FLY_API_TOKEN`.

use ferry_step_sdk::host::vm::VmTargetInfo;

use super::Workflow;

/// ferry's GitHub Action.
pub const FERRY_ACTION: &str = "ferry-dev/ferry@v0";

/// Whether a workflow deploys with flyctl.
pub fn deploys_with_flyctl(text: &str) -> bool {
    text.lines().any(|l| runs_flyctl_deploy(l) || l.contains("superfly/flyctl-actions"))
}

fn runs_flyctl_deploy(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).any(|w| matches!(w[0], "flyctl" | "fly") && w[1] == "deploy") || words.iter().any(|w| w.starts_with("flyctl") && line.contains(" deploy"))
}

/// The rewritten text, or `None` when the file does not deploy with
/// flyctl.
pub fn rewrite(workflow: &Workflow, target: &VmTargetInfo) -> Option<String> {
    if !deploys_with_flyctl(&workflow.text) {
        return None;
    }
    let run_steps = run_steps_to_ferry(&workflow.text.lines().collect::<Vec<_>>());
    let lines: Vec<&str> = run_steps.iter().map(String::as_str).collect();
    let mut out: Vec<String> = Vec::new();
    // Inside the older Docker action's step item (its indentation).
    let mut docker_item: Option<usize> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let item = trimmed.strip_prefix("- ");
        if item.is_some_and(|r| r.starts_with("uses: superfly/flyctl-actions/setup-flyctl")) {
            // The setup step, with its `with:` lines: gone.
            i += 1;
            while i < lines.len() && indentation(lines[i]) > indent.len() && !lines[i].trim_start().starts_with("- ") {
                i += 1;
            }
            continue;
        }
        if trimmed.starts_with("- uses: superfly/flyctl-actions@") {
            // The older Docker action, whose `with: args: deploy` runs the
            // deploy: its inputs go with it.
            out.push(format!("{indent}- uses: {FERRY_ACTION}"));
            docker_item = Some(indent.len());
        } else if docker_item.is_some_and(|n| indentation(line) > n && !trimmed.starts_with("- ")) && trimmed.starts_with("with:") {
            let with = indent.len();
            while i + 1 < lines.len() && indentation(lines[i + 1]) > with && indentation(lines[i + 1]) != usize::MAX {
                i += 1;
            }
        } else if trimmed.starts_with("FLY_API_TOKEN:") {
            for var in [&target.ssh_key_env, &target.known_hosts_env] {
                out.push(format!("{indent}{var}: ${{{{ secrets.{var} }}}}"));
            }
        } else {
            out.push(line.to_string());
        }
        i += 1;
    }
    let mut text = out.join("\n");
    if workflow.text.ends_with('\n') {
        text.push('\n');
    }
    Some(text)
}

/// Each step item that runs `flyctl deploy` in a one-line `run:` becomes
/// ferry's action. What the command said about where the app is carries
/// over as the action's inputs: the step's `working-directory:` (a `uses:`
/// step may not have one) and flyctl's `-c`/`--config` file.
fn run_steps_to_ferry(lines: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if !trimmed.starts_with("- ") {
            out.push(line.to_string());
            i += 1;
            continue;
        }
        let item = indentation(line);
        let keys = item + 2;
        let end = (i + 1..lines.len()).find(|&j| indentation(lines[j]) != usize::MAX && indentation(lines[j]) <= item).unwrap_or(lines.len());
        let key = |l: &str| l.trim_start().trim_start_matches("- ").to_string();
        let deploy = (i..end).find(|&j| key(lines[j]).strip_prefix("run: ").is_some_and(runs_flyctl_deploy) && (j == i || indentation(lines[j]) == keys));
        let Some(deploy) = deploy else {
            out.extend(lines[i..end].iter().map(|l| l.to_string()));
            i = end;
            continue;
        };
        let mut inputs: Vec<(&str, String)> = Vec::new();
        for (j, &line) in lines.iter().enumerate().take(end).skip(i) {
            let k = key(line);
            let first = if j == i { format!("{}- ", " ".repeat(item)) } else { " ".repeat(keys) };
            if j == deploy {
                out.push(format!("{first}uses: {FERRY_ACTION}"));
                if let Some(config) = config_flag(&k) {
                    inputs.push(("config", config));
                }
            } else if let Some(dir) = k.strip_prefix("working-directory:").filter(|_| j == i || indentation(line) == keys) {
                inputs.push(("working-directory", dir.trim().to_string()));
                if j == i {
                    out.push(format!("{first}name: deploy with ferry"));
                }
            } else {
                out.push(line.to_string());
            }
        }
        if !inputs.is_empty() {
            out.push(format!("{}with:", " ".repeat(keys)));
            out.extend(inputs.iter().map(|(name, value)| format!("{}  {name}: {value}", " ".repeat(keys))));
        }
        i = end;
    }
    out
}

/// flyctl's `-c FILE`, `--config FILE` or `--config=FILE`.
fn config_flag(command: &str) -> Option<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    words.iter().enumerate().find_map(|(n, w)| match *w {
        "-c" | "--config" => words.get(n + 1).map(|v| v.to_string()),
        other => other.strip_prefix("--config=").map(str::to_string),
    })
}

fn indentation(line: &str) -> usize {
    if line.trim().is_empty() { usize::MAX } else { line.len() - line.trim_start().len() }
}

/// ferry.toml with a `vm-deploy` step for the target and names (and
/// parse-config first, when the file had no steps: without any, ferry runs
/// parse-config alone).
pub fn ferry_toml(current: Option<&str>, target: &str, hostnames: &[String]) -> String {
    let mut text = current.unwrap_or_default().to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if !text.contains("[[steps]]") {
        text.push_str("\n[[steps]]\nname = \"parse-config\"\n");
    }
    let names = if hostnames.is_empty() { String::new() } else { format!(", hostnames = \"{}\"", hostnames.join(",")) };
    text.push_str(&format!(
        "\n# Added by `ferry migrate`: deploys go to the host now.\n[[steps]]\nname = \"vm-deploy\"\nparams = {{ target = \"{target}\"{names} }}\n"
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> VmTargetInfo {
        VmTargetInfo {
            name: "web".into(),
            root: "/srv".into(),
            nginx_sites: "/etc/nginx/conf.d".into(),
            lock_ttl_ms: 1,
            lock_path: "/srv/.ferry.lock".into(),
            keep: 3,
            postgres_image: None,
            acme: None,
            address: None,
            ssh_key_env: "FERRY_SECRET_SSH_KEY".into(),
            known_hosts_env: "FERRY_SECRET_KNOWN_HOSTS".into(),
        }
    }

    /// flyctl's own template, `scanner/templates/github/.github/workflows/fly-deploy.yml`.
    const FLYCTL_TEMPLATE: &str = "# See https://fly.io/docs/app-guides/continuous-deployment-with-github-actions/

name: Fly Deploy
on:
  push:
    branches:
      - main
jobs:
  deploy:
    name: Deploy app
    runs-on: ubuntu-latest
    concurrency: deploy-group    # optional: ensure only one action runs at a time
    steps:
      - uses: actions/checkout@v4
      - uses: superfly/flyctl-actions/setup-flyctl@master
      - run: flyctl deploy --remote-only
        env:
          FLY_API_TOKEN: ${{ secrets.FLY_API_TOKEN }}
";

    #[test]
    fn flyctls_template_becomes_ferrys_action_with_the_hosts_secrets() {
        let rewritten = rewrite(&Workflow { path: ".github/workflows/fly-deploy.yml".into(), text: FLYCTL_TEMPLATE.into() }, &target()).unwrap();
        assert_eq!(
            rewritten,
            FLYCTL_TEMPLATE
                .replace("      - uses: superfly/flyctl-actions/setup-flyctl@master\n", "")
                .replace("- run: flyctl deploy --remote-only", "- uses: ferry-dev/ferry@v0")
                .replace(
                    "FLY_API_TOKEN: ${{ secrets.FLY_API_TOKEN }}",
                    "FERRY_SECRET_SSH_KEY: ${{ secrets.FERRY_SECRET_SSH_KEY }}\n          FERRY_SECRET_KNOWN_HOSTS: ${{ secrets.FERRY_SECRET_KNOWN_HOSTS }}"
                )
        );
        assert!(!deploys_with_flyctl(&rewritten));
    }

    #[test]
    fn the_older_docker_action_and_a_setup_step_with_inputs_are_replaced_too() {
        let text = "jobs:\n  d:\n    steps:\n      - uses: superfly/flyctl-actions/setup-flyctl@master\n        with:\n          version: 0.1.50\n      - uses: superfly/flyctl-actions@master\n        env:\n          FLY_API_TOKEN: ${{ secrets.FLY_API_TOKEN }}\n        with:\n          args: \"deploy\"\n";
        let rewritten = rewrite(&Workflow { path: "w.yml".into(), text: text.into() }, &target()).unwrap();
        assert_eq!(
            rewritten,
            "jobs:\n  d:\n    steps:\n      - uses: ferry-dev/ferry@v0\n        env:\n          FERRY_SECRET_SSH_KEY: ${{ secrets.FERRY_SECRET_SSH_KEY }}\n          FERRY_SECRET_KNOWN_HOSTS: ${{ secrets.FERRY_SECRET_KNOWN_HOSTS }}\n"
        );
    }

    #[test]
    fn the_apps_directory_and_config_file_carry_over_as_the_actions_inputs() {
        let text = "    steps:\n      - uses: actions/checkout@v4\n      - name: Deploy\n        working-directory: services/shop\n        run: flyctl deploy -c fly.production.toml --remote-only\n        env:\n          FLY_API_TOKEN: ${{ secrets.FLY_API_TOKEN }}\n      - run: echo done\n";
        let rewritten = rewrite(&Workflow { path: "w.yml".into(), text: text.into() }, &target()).unwrap();
        assert_eq!(
            rewritten,
            "    steps:\n      - uses: actions/checkout@v4\n      - name: Deploy\n        uses: ferry-dev/ferry@v0\n        env:\n          FERRY_SECRET_SSH_KEY: ${{ secrets.FERRY_SECRET_SSH_KEY }}\n          FERRY_SECRET_KNOWN_HOSTS: ${{ secrets.FERRY_SECRET_KNOWN_HOSTS }}\n        with:\n          working-directory: services/shop\n          config: fly.production.toml\n      - run: echo done\n"
        );
        let first = "      - run: fly deploy --config=deploy/fly.toml\n        working-directory: app\n";
        assert_eq!(
            rewrite(&Workflow { path: "w.yml".into(), text: first.into() }, &target()).unwrap(),
            "      - uses: ferry-dev/ferry@v0\n        with:\n          config: deploy/fly.toml\n          working-directory: app\n"
        );
    }

    #[test]
    fn a_workflow_without_flyctl_is_left_alone_and_ferry_toml_gains_the_step() {
        assert_eq!(rewrite(&Workflow { path: "ci.yml".into(), text: "steps:\n  - run: cargo test\n".into() }, &target()), None);
        assert_eq!(
            ferry_toml(None, "web", &["shop.example.com".into()]),
            "\n[[steps]]\nname = \"parse-config\"\n\n# Added by `ferry migrate`: deploys go to the host now.\n[[steps]]\nname = \"vm-deploy\"\nparams = { target = \"web\", hostnames = \"shop.example.com\" }\n"
        );
        let kept = ferry_toml(Some("[[steps]]\nname = \"parse-config\""), "web", &[]);
        assert!(kept.starts_with("[[steps]]\nname = \"parse-config\"\n\n# Added"), "{kept}");
        assert_eq!(kept.matches("[[steps]]").count(), 2);
    }
}
