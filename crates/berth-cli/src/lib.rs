//! The `berth` command-line client: Heroku-style `topic:command`s over the API.

mod client;
mod commands;
mod output;

use clap::{Args, Subcommand};
use commands::checks;

pub use client::{Client, Credentials};

/// A user-facing failure: one line, plus an optional hint on how to fix it.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

/// `-a/--app APP`; defaults to the app of the `berth` git remote.
#[derive(Debug, Clone, Args)]
pub struct AppArg {
    /// App to run the command against (default: from the `berth` git remote)
    #[arg(short, long, env = "BERTH_APP")]
    pub app: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct JsonArg {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Options of `run` and `run:detached`.
#[derive(Debug, Clone, Args)]
pub struct RunOpts {
    /// Dyno size (memory limit), e.g. standard-2X
    #[arg(short, long)]
    pub size: Option<String>,
    /// Extra environment, KEY=VALUE (repeatable)
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Stop the process after this many seconds (default 3600)
    #[arg(long)]
    pub max_runtime: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List apps
    Apps(JsonArg),
    /// Create an app (a random name when none is given)
    #[command(name = "apps:create")]
    AppsCreate {
        name: Option<String>,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Show an app
    #[command(name = "apps:info")]
    AppsInfo {
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Destroy an app, its releases, containers and network
    #[command(name = "apps:destroy")]
    AppsDestroy {
        #[command(flatten)]
        app: AppArg,
        /// Repeat the app name to confirm
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Show config vars
    Config {
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        json: JsonArg,
        /// Print as KEY=value lines (for a shell or a .env file)
        #[arg(long, short = 's')]
        shell: bool,
    },
    /// Print one config var's value
    #[command(name = "config:get")]
    ConfigGet {
        key: String,
        #[command(flatten)]
        app: AppArg,
    },
    /// Set config vars (makes a new release and restarts the app)
    #[command(name = "config:set")]
    ConfigSet {
        /// KEY=VALUE pairs
        #[arg(required = true)]
        pairs: Vec<String>,
        #[command(flatten)]
        app: AppArg,
    },
    /// Remove config vars (makes a new release and restarts the app)
    #[command(name = "config:unset")]
    ConfigUnset {
        #[arg(required = true)]
        keys: Vec<String>,
        #[command(flatten)]
        app: AppArg,
    },
    /// List releases, newest first
    Releases {
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        json: JsonArg,
        /// How many to show
        #[arg(short = 'n', long, default_value_t = 15)]
        num: usize,
    },
    /// Show one release
    #[command(name = "releases:info")]
    ReleasesInfo {
        /// Release version, e.g. v3 (default: current)
        release: Option<String>,
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Roll back to an earlier release (default: the one before the current)
    #[command(name = "releases:rollback")]
    ReleasesRollback {
        release: Option<String>,
        #[command(flatten)]
        app: AppArg,
    },
    /// List the app's instances (dynos)
    Ps {
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Scale process types: web=3 worker=1 (optionally TYPE=N:SIZE, or +1/-1)
    #[command(name = "ps:scale")]
    PsScale {
        #[arg(required = true)]
        changes: Vec<String>,
        #[command(flatten)]
        app: AppArg,
    },
    /// Restart all instances, one process type (web) or one instance (web.1)
    #[command(name = "ps:restart")]
    PsRestart {
        target: Option<String>,
        #[command(flatten)]
        app: AppArg,
    },
    /// Show the health check new web instances must pass before taking traffic
    Checks {
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Set the web health check: an HTTP path (e.g. /health), or --tcp for "accepts connections"
    #[command(name = "checks:set")]
    ChecksSet {
        #[command(flatten)]
        check: checks::CheckArgs,
        #[command(flatten)]
        app: AppArg,
    },
    /// Remove the app's health check (back to app.json's, else TCP)
    #[command(name = "checks:unset")]
    ChecksUnset {
        #[command(flatten)]
        app: AppArg,
    },
    /// Deploy a directory (built on the server, like a git push) or, with --image,
    /// a Docker image that is on the server's engine
    Deploy {
        /// Source directory to upload and build (default: .); .gitignore and .slugignore are honoured
        dir: Option<std::path::PathBuf>,
        /// Deploy this image instead of building source, e.g. myapp:1.2
        #[arg(long, conflicts_with = "dir")]
        image: Option<String>,
        /// With --image: process type and command, e.g. --process 'worker=python worker.py'
        /// (repeatable; without `web=…`, web runs the image's own entrypoint/cmd)
        #[arg(long = "process", value_name = "TYPE=COMMAND", requires = "image")]
        processes: Vec<String>,
        #[command(flatten)]
        app: AppArg,
    },
    /// Show the app's buildpacks
    Buildpacks {
        #[command(flatten)]
        app: AppArg,
    },
    /// Use one buildpack: a built-in name, an http(s) git URL (#ref), a .tgz URL, or file:///path (admins)
    #[command(name = "buildpacks:set")]
    BuildpacksSet {
        url: String,
        #[command(flatten)]
        app: AppArg,
    },
    /// Append a buildpack (multi-buildpack builds run them all, in order)
    #[command(name = "buildpacks:add")]
    BuildpacksAdd {
        url: String,
        #[command(flatten)]
        app: AppArg,
    },
    /// Go back to detecting a built-in buildpack
    #[command(name = "buildpacks:clear")]
    BuildpacksClear {
        #[command(flatten)]
        app: AppArg,
    },
    /// List builds
    Builds {
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Show a build and its output (default: the latest)
    #[command(name = "builds:info")]
    BuildsInfo {
        build: Option<String>,
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Empty the app's build cache (the next build starts from scratch)
    #[command(name = "builds:cache:purge")]
    BuildsCachePurge {
        #[command(flatten)]
        app: AppArg,
        /// Repeat the app name to confirm
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Run a one-off command attached (a real TTY when the terminal is one); exits with its code
    Run {
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        opts: RunOpts,
        /// Never allocate a TTY (pipes and scripts never get one anyway)
        #[arg(long)]
        no_tty: bool,
        /// The command and its arguments (after `--`)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Run a one-off command in the background; its output goes to the app's log
    #[command(name = "run:detached")]
    RunDetached {
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        opts: RunOpts,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Stop a dyno: a one-off (run.1234) is removed, others are replaced
    #[command(name = "ps:stop")]
    PsStop {
        dyno: String,
        #[command(flatten)]
        app: AppArg,
    },
    /// Show the app's traffic (requests, latency percentiles) and instance resources
    Metrics {
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// List the app's log drains with their delivery counters
    Drains {
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Send the app's log to syslog://HOST:PORT, syslog+tls://HOST:PORT or an https:// URL
    #[command(name = "drains:add")]
    DrainsAdd {
        url: String,
        #[command(flatten)]
        app: AppArg,
    },
    /// Stop draining to a URL (or drain id/token)
    #[command(name = "drains:remove")]
    DrainsRemove {
        drain: String,
        #[command(flatten)]
        app: AppArg,
    },
    /// Show the app's log: its output, router and platform lines
    Logs {
        #[command(flatten)]
        app: AppArg,
        /// Number of recent lines to show
        #[arg(short = 'n', long, default_value_t = 100)]
        num: usize,
        /// Keep following new lines
        #[arg(short, long)]
        tail: bool,
        /// Only lines from this source: app, router or berth
        #[arg(short, long)]
        source: Option<String>,
        /// Only lines from this process (web.1) or process type (web)
        #[arg(short, long = "ps", visible_alias = "dyno")]
        ps: Option<String>,
    },
    /// Log in with email and password (a new personal token), or store a given token
    Login {
        /// Store this API token instead of logging in with a password
        /// (without --email and with a piped stdin, the token is read from stdin)
        #[arg(long, conflicts_with_all = ["email", "password_stdin"])]
        token: Option<String>,
        /// API URL (default: BERTH_API_URL or http://127.0.0.1:7070)
        #[arg(long)]
        api_url: Option<String>,
        /// Account email (prompted when omitted)
        #[arg(long)]
        email: Option<String>,
        /// Read the password from stdin instead of prompting
        #[arg(long)]
        password_stdin: bool,
    },
    /// Forget the stored credentials (and revoke the token `berth login` made)
    Logout,
    /// List platform users (admins)
    Users(JsonArg),
    /// Add a user (admins); the initial password is prompted for, or read with --password-stdin
    #[command(name = "users:add")]
    UsersAdd {
        email: String,
        /// Read the initial password from stdin
        #[arg(long)]
        password_stdin: bool,
        /// Make the user a platform admin
        #[arg(long)]
        admin: bool,
    },
    /// Remove a user, their tokens and access grants (admins)
    #[command(name = "users:remove")]
    UsersRemove { email: String },
    /// List your API tokens (authorizations)
    Authorizations(JsonArg),
    /// Create an API token; it is shown once
    #[command(name = "authorizations:create")]
    AuthorizationsCreate {
        /// What the token is for
        #[arg(short, long)]
        description: Option<String>,
        /// Seconds until it stops working (default: never)
        #[arg(short = 'e', long)]
        expires_in: Option<i64>,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Revoke an API token: it stops working at once
    #[command(name = "authorizations:revoke")]
    AuthorizationsRevoke { id: String },
    /// List who can access the app, with their permissions
    Access {
        #[command(flatten)]
        app: AppArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Give a user access to the app
    #[command(name = "access:add")]
    AccessAdd {
        email: String,
        #[command(flatten)]
        app: AppArg,
        /// Comma-separated: view, deploy, operate, manage (view is always included;
        /// default: view,deploy,operate)
        #[arg(long)]
        permissions: Option<String>,
    },
    /// Change a collaborator's permissions
    #[command(name = "access:update")]
    AccessUpdate {
        email: String,
        #[command(flatten)]
        app: AppArg,
        /// Comma-separated: view, deploy, operate, manage
        #[arg(long, required = true)]
        permissions: String,
    },
    /// Remove a collaborator from the app
    #[command(name = "access:remove")]
    AccessRemove {
        email: String,
        #[command(flatten)]
        app: AppArg,
    },
    /// List your SSH keys (for git push over SSH)
    Keys(JsonArg),
    /// Add an SSH public key (default: ~/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub)
    #[command(name = "keys:add")]
    KeysAdd { file: Option<std::path::PathBuf> },
    /// Remove an SSH key (by fingerprint, comment or id)
    #[command(name = "keys:remove")]
    KeysRemove { key: String },
    /// Show the audit trail: every change, who made it, from where (admins; an app's managers with -a)
    Audit {
        /// Only this app's events
        #[arg(short, long)]
        app: Option<String>,
        /// How many events, newest first
        #[arg(short = 'n', long, default_value_t = 50)]
        num: usize,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Show who you are logged in as
    #[command(name = "auth:whoami")]
    Whoami,
    /// Add (or update) a git remote that deploys to the app on `git push`
    #[command(name = "git:remote")]
    GitRemote {
        #[command(flatten)]
        app: AppArg,
        /// Remote name
        #[arg(short, long, default_value = "berth")]
        remote: String,
    },
    /// Internal: git hooks run on the server
    #[command(hide = true)]
    Hook { name: String },
}

/// Runs one client command.
pub async fn run(command: Command) -> Result<(), CliError> {
    let client = Client::from_env();
    commands::dispatch(&client, command).await
}
