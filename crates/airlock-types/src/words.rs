//! `words!`: an enum whose variants are words, each spelled once.

use std::fmt;

/// A word that names none of an enum's variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWord {
    what: &'static str,
    word: String,
    known: &'static [&'static str],
}

impl UnknownWord {
    pub fn new(what: &'static str, word: &str, known: &'static [&'static str]) -> Self {
        UnknownWord {
            what,
            word: word.to_owned(),
            known,
        }
    }

    /// What was expected: `ecosystem`, `role`, ...
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The word given.
    pub fn word(&self) -> &str {
        &self.word
    }

    /// The words known, in declaration order.
    pub fn known(&self) -> &'static [&'static str] {
        self.known
    }
}

impl fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?} (expected ", self.what, self.word)?;
        for (i, w) in self.known.iter().enumerate() {
            if i > 0 {
                f.write_str(if i + 1 == self.known.len() {
                    " or "
                } else {
                    ", "
                })?;
            }
            f.write_str(w)?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for UnknownWord {}

/// Declares `enum $name { $variant, ... }` spelled `$word`: `ALL`, `WORDS`, `as_str`, `Display`,
/// `FromStr` (error [`UnknownWord`]) and serde as that string.
#[macro_export]
#[doc(hidden)]
macro_rules! words {
    (
        $(#[$meta:meta])*
        $name:ident $what:literal { $($variant:ident = $word:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$($word),+].len()] = [$($name::$variant),+];
            /// Every spelling, in declaration order.
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            /// The one spelling: configuration, database, API and CLI alike.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownWord;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err($crate::UnknownWord::new($what, s, Self::WORDS)),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl ::serde::de::Visitor<'_> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "a {}", $what)
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        v.parse()
                            .map_err(|_| E::unknown_variant(v, $name::WORDS))
                    }
                }
                d.deserialize_str(Visitor)
            }
        }
    };
}
