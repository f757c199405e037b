//! `oxihsm`: the admin command line. For now it has `demo`, which builds nothing itself but
//! drives the built liboxihsm.so through the real PKCS#11 ABI (via the `cryptoki` crate).
#![forbid(unsafe_code)]

mod demo;

use std::process::ExitCode;

const USAGE: &str = "\
usage: oxihsm <command> [options]

commands:
  demo [--dir DIR]   initialise a token in a local store (default ./oxihsm-demo), store and
                     read back objects through liboxihsm.so, and print how to use pkcs11-tool
  help               this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("demo") => demo::run(&args[1..]),
        Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            Ok(())
        }
        Some("--version" | "-V") => {
            println!("oxihsm {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oxihsm: {e}");
            ExitCode::FAILURE
        }
    }
}
