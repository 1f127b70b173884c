//! URL slugs: lowercase ASCII words joined by `-`, accents folded ("Café Ñandú" → "cafe-nandu").

use crate::error::{Entity, Result};

/// The slug to store: the one given, or one derived from `name` when left empty. A name with
/// nothing to derive from ("☃") gets the entity's word and a random suffix
/// (`collection-3fa9c2d1`), unique in practice: refusing a valid name would be worse.
pub fn slug_or_derive(entity: Entity, slug: &str, name: &str) -> Result<String> {
    if !slug.trim().is_empty() {
        return Ok(slug.trim().to_string());
    }
    let derived = slugify(name);
    if derived.is_empty() {
        // A v7 id ends in random bits.
        let random = uuid::Uuid::now_v7().simple().to_string();
        return Ok(format!("{}-{}", slugify(entity.label()), &random[24..]));
    }
    Ok(derived)
}

pub fn slugify(input: &str) -> String {
    let mut slug = String::with_capacity(input.len());
    let mut pending_dash = false;
    for ch in input.chars().flat_map(fold) {
        if ch.is_ascii_alphanumeric() {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(ch.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    slug.truncate(200);
    slug.trim_end_matches('-').to_string()
}

/// Folds the Latin letters Spanish and Portuguese catalogs use; anything else is a separator.
fn fold(ch: char) -> impl Iterator<Item = char> {
    let folded: &str = match ch {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' => "a",
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => "e",
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => "i",
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' => "o",
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => "u",
        'ñ' | 'Ñ' => "n",
        'ç' | 'Ç' => "c",
        _ => "",
    };
    let own = if folded.is_empty() { Some(ch) } else { None };
    folded.chars().chain(own)
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_fold_accents_and_collapse_separators() {
        assert_eq!(slugify("Café Ñandú"), "cafe-nandu");
        assert_eq!(slugify("  Camiseta -- Básica (M) "), "camiseta-basica-m");
        assert_eq!(slugify("100% Algodón!"), "100-algodon");
        assert_eq!(slugify("☃"), "");
    }
}
