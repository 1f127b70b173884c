/// Declares a changeset (each field `None` = leave as is) and `apply_to`, the row the changes
/// would make of `old`: a repository diffs that row before it writes, so a change that changes
/// nothing is neither written nor announced. The fields are the row's own, so the compiler
/// checks that each change lands where it belongs.
macro_rules! changeset {
    (
        $(#[$meta:meta])*
        pub struct $name:ident for $model:ident {
            $( $(#[$field_meta:meta])* pub $field:ident: Option<$ty:ty>, )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$field_meta])* pub $field: Option<$ty>, )*
        }

        impl $name {
            pub fn apply_to(&self, old: &$model) -> $model {
                let mut new = old.clone();
                $( if let Some(value) = &self.$field { new.$field = value.clone(); } )*
                new
            }
        }
    };
}

pub(crate) use changeset;
