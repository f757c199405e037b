//! `oxihsm`: the admin command line (issue 7). Token and key commands drive the built
//! liboxihsm.so through the real PKCS#11 ABI (the `cryptoki` crate), so they obey exactly the
//! rules every other application does; `audit`, `backup`/`restore` and `config` read the
//! store directly, as an administrator's tool on the host.
#![forbid(unsafe_code)]

mod admin;
mod audit_cmd;
mod backup;
mod bench;
mod demo;
mod envelope;
mod keys;
mod output;
#[path = "../shared/p11.rs"]
mod p11;
mod pin;
mod token;
mod uri;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Errors carry what went wrong and what to do; CKR codes are named.
pub type Result<T> = std::result::Result<T, String>;

#[derive(Parser)]
#[command(name = "oxihsm", version, about = "Administer oxihsm tokens, keys, backups and the audit trail")]
pub struct Cli {
    /// The PKCS#11 module to drive (default: liboxihsm.so beside this program).
    #[arg(long, global = true, env = "OXIHSM_MODULE")]
    module: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Which token a command works on.
#[derive(Args, Clone, Default)]
pub struct TokenSel {
    /// Token label.
    #[arg(long)]
    token: Option<String>,
    /// Slot id.
    #[arg(long)]
    slot: Option<u64>,
    /// Token serial number.
    #[arg(long)]
    serial: Option<String>,
}

/// Where the user PIN comes from.
#[derive(Args, Clone, Default)]
pub struct PinArgs {
    /// `prompt` (default, no echo), `env:VAR`, `file:PATH` or `value:PIN` (visible in process
    /// listings: only when you mean it).
    #[arg(long, value_name = "SOURCE")]
    pin_source: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Quick start: a token in a local store, used through liboxihsm.so.
    Demo {
        #[arg(long, default_value = "oxihsm-demo")]
        dir: PathBuf,
    },
    /// List slots and tokens.
    Slots,
    /// Initialise (or re-initialise) a token, and set its user PIN.
    InitToken {
        #[command(flatten)]
        sel: TokenSel,
        /// Use the first free slot.
        #[arg(long)]
        free: bool,
        /// Label of the new token.
        #[arg(long)]
        label: String,
        /// Where the SO PIN comes from (as --pin-source).
        #[arg(long, value_name = "SOURCE")]
        so_pin_source: Option<String>,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Set the user PIN as the SO (unlocks a locked user PIN).
    InitPin {
        #[command(flatten)]
        sel: TokenSel,
        #[arg(long, value_name = "SOURCE")]
        so_pin_source: Option<String>,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Change the user PIN (or the SO PIN with --so).
    SetPin {
        #[command(flatten)]
        sel: TokenSel,
        #[arg(long)]
        so: bool,
        /// Where the current PIN comes from.
        #[command(flatten)]
        pin: PinArgs,
        /// Where the new PIN comes from.
        #[arg(long, value_name = "SOURCE")]
        new_pin_source: Option<String>,
    },
    /// List a token's objects with their PKCS#11 URIs.
    Objects {
        #[command(flatten)]
        sel: TokenSel,
        #[command(flatten)]
        pin: PinArgs,
        /// Public objects only, without logging in.
        #[arg(long)]
        no_login: bool,
    },
    /// Generate a key in a token.
    Keygen(keys::KeygenArgs),
    /// Import a private key, public key or X.509 certificate (PEM or DER).
    Import(keys::ImportArgs),
    /// Write a public key as PEM.
    ExportPub {
        /// pkcs11: URI of the public key, private key or certificate.
        uri: String,
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Delete the objects a pkcs11: URI names.
    Delete {
        uri: String,
        #[command(flatten)]
        pin: PinArgs,
        /// Delete even when the URI matches several objects.
        #[arg(long)]
        all: bool,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        action: audit_cmd::Action,
    },
    /// Write an encrypted, integrity-protected backup of a token (useless without its PIN).
    Backup {
        #[command(flatten)]
        sel: TokenSel,
        out: PathBuf,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Restore a token from a backup (into its old slot, or --slot).
    Restore {
        file: PathBuf,
        #[arg(long)]
        slot: Option<u64>,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Envelope-encrypt a file under a token key (AES key wrap or RSA-OAEP).
    Encrypt(envelope::EncryptArgs),
    /// Decrypt a file made by `oxihsm encrypt`.
    Decrypt(envelope::DecryptArgs),
    /// Move SoftHSMv2 tokens (file backend) into the oxihsm store, PINs and all.
    Migrate {
        /// SoftHSMv2's directories.tokendir (or one token's directory).
        #[arg(long = "from-softhsm", value_name = "TOKENDIR")]
        from: PathBuf,
        /// Only the token with this label.
        #[arg(long)]
        token: Option<String>,
        #[arg(long, value_name = "SOURCE")]
        so_pin_source: Option<String>,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Measure this module against others (SoftHSMv2 ...) and aws-lc-rs, side by side.
    Bench(bench::BenchArgs),
    /// (internal) one fresh-process measurement for `bench`.
    #[command(hide = true)]
    BenchChild {
        #[arg(long)]
        lib: PathBuf,
    },
    /// The configuration in effect.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Where the configuration comes from and what it says.
    Show,
}

fn run(cli: Cli) -> Result<()> {
    let ctx = token::Ctx { module: cli.module, json: cli.json };
    match cli.command {
        Command::Demo { dir } => demo::run(&dir),
        Command::Slots => admin::slots(&ctx),
        Command::InitToken { sel, free, label, so_pin_source, pin } => {
            admin::init_token(&ctx, &sel, free, &label, so_pin_source.as_deref(), &pin)
        }
        Command::InitPin { sel, so_pin_source, pin } => admin::init_pin(&ctx, &sel, so_pin_source.as_deref(), &pin),
        Command::SetPin { sel, so, pin, new_pin_source } => {
            admin::set_pin(&ctx, &sel, so, &pin, new_pin_source.as_deref())
        }
        Command::Objects { sel, pin, no_login } => keys::objects(&ctx, &sel, &pin, no_login),
        Command::Keygen(a) => keys::keygen(&ctx, &a),
        Command::Import(a) => keys::import(&ctx, &a),
        Command::ExportPub { uri, out, pin } => keys::export_pub(&ctx, &uri, out.as_deref(), &pin),
        Command::Delete { uri, pin, all } => keys::delete(&ctx, &uri, &pin, all),
        Command::Audit { action } => audit_cmd::run(&ctx, action),
        Command::Backup { sel, out, pin } => backup::backup(&ctx, &sel, &out, &pin),
        Command::Restore { file, slot, pin } => backup::restore(&ctx, &file, slot, &pin),
        Command::Encrypt(a) => envelope::encrypt(&ctx, &a),
        Command::Decrypt(a) => envelope::decrypt(&ctx, &a),
        Command::Config { action: ConfigAction::Show } => admin::config_show(&ctx),
        Command::Migrate { from, token, so_pin_source, pin } => {
            admin::migrate(&ctx, &from, token.as_deref(), so_pin_source.as_deref(), &pin)
        }
        Command::Bench(a) => bench::run(&a),
        Command::BenchChild { lib } => bench::child(&lib),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oxihsm: {e}");
            ExitCode::FAILURE
        }
    }
}
