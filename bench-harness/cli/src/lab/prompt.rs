//! The lesson's header, and the prediction a student commits to before measuring.

use std::io::{BufRead, IsTerminal, Write};

use perflab_plugin_host::wit;

/// Prints the hypothesis and asks for a prediction (when stdin is a terminal and not
/// `--no-prompt`). Returns what was typed, if anything.
pub fn ask_prediction(d: &wit::Description, no_prompt: bool) -> Option<String> {
    println!("\n{} — {}\n", d.name, d.summary);
    println!("Hypothesis: {}\n", d.teaching.hypothesis);
    println!(
        "Predict before you measure: {}",
        d.teaching.prediction_prompt
    );
    if no_prompt || !std::io::stdin().is_terminal() {
        println!();
        return None;
    }
    print!("Your prediction (Enter to skip): ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    let line = line.trim().to_string();
    (!line.is_empty()).then_some(line)
}
