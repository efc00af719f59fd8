//! A lab's parameters: `describe` with defaults tells which there are and their types; the
//! command line's `--param NAME=VALUE` are checked against them, and `describe` is asked again
//! with the chosen values (a lab may shape its variants and load by them).

use crate::{Plugin, PluginError, convert, wit};

/// `describe` with defaults, then again with the given `NAME=VALUE`s checked against the
/// declared types. `implied` values (e.g. the `--db` choice for a lab that declares a `db`
/// parameter) apply only when the lab declares the parameter and the user did not set it.
pub fn describe_with_params(
    plugin: &Plugin,
    given: &[String],
    implied: &[(&str, String)],
) -> Result<(wit::Description, Vec<wit::ParamValue>), PluginError> {
    let declared = plugin.describe(&[])?;
    let mut given = given.to_vec();
    for (name, value) in implied {
        let prefix = format!("{name}=");
        if declared.params.iter().any(|p| p.name == *name)
            && !given.iter().any(|g| g.starts_with(&prefix))
        {
            given.push(format!("{name}={value}"));
        }
    }
    let mut chosen: Vec<wit::ParamValue> = declared
        .params
        .iter()
        .map(|p| wit::ParamValue {
            name: p.name.clone(),
            value: p.default.clone(),
        })
        .collect();
    for entry in &given {
        let (name, raw) = entry
            .split_once('=')
            .ok_or_else(|| PluginError::ParamSyntax(entry.clone()))?;
        let Some(decl) = declared.params.iter().find(|p| p.name == name) else {
            return Err(PluginError::UnknownParam {
                lab: declared.name.clone(),
                given: name.to_string(),
                known: declared.params.iter().map(|p| p.name.clone()).collect(),
            });
        };
        let value = convert::param_value(decl, raw)?;
        if let Some(slot) = chosen.iter_mut().find(|p| p.name == name) {
            slot.value = value;
        }
    }
    let description = if given.is_empty() {
        declared
    } else {
        plugin.describe(&chosen)?
    };
    Ok((description, chosen))
}
