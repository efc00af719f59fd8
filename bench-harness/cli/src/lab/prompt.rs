//! The lesson's header, and the prediction a student commits to before measuring.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc;
use std::time::Duration;

use perflab_plugin_host::wit;

/// How long a prediction piped on stdin (`echo 2x | just lab …`) may take to arrive.
const PIPED_WITHIN: Duration = Duration::from_secs(2);

/// Prints the hypothesis (unless `quiet`) and asks for a prediction: typed at a terminal, or
/// the first line of what was piped on stdin. `--no-prompt` asks nothing. Returns the
/// prediction, if one was given.
pub fn ask_prediction(d: &wit::Description, no_prompt: bool, quiet: bool) -> Option<String> {
    if !quiet {
        println!("\n{} — {}\n", d.name, d.summary);
        println!("Hypothesis: {}\n", d.teaching.hypothesis);
        println!(
            "Predict before you measure: {}",
            d.teaching.prediction_prompt
        );
    }
    if no_prompt {
        if !quiet {
            println!();
        }
        return None;
    }
    let line = if std::io::stdin().is_terminal() {
        print!("Your prediction (Enter to skip): ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).ok()?;
        line
    } else {
        // A pipe (or nothing: /dev/null reads as end of file at once). A pipe that stays open
        // with nothing in it must not hang the run: wait briefly on a helper thread.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).is_ok() {
                let _ = tx.send(line);
            }
        });
        rx.recv_timeout(PIPED_WITHIN).unwrap_or_default()
    };
    let line = line.trim().to_string();
    if !quiet && !line.is_empty() && !std::io::stdin().is_terminal() {
        println!("Your prediction: {line}");
    }
    (!line.is_empty()).then_some(line)
}
