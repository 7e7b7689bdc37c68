//! A small XML writer: elements, attributes and text, every value escaped, nothing else. The
//! document is built in one string as it is written (a summary is small).

use std::fmt::Write as _;

pub struct Xml {
    out: String,
    open: Vec<&'static str>,
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all (the text rule refuses them at sync; this
            // keeps the document well-formed whatever reaches it).
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

impl Xml {
    pub fn new() -> Self {
        Xml { out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), open: vec![] }
    }

    fn start(&mut self, tag: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(tag);
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", escape(v));
        }
    }

    /// `<tag attrs>` — closed by [`Xml::close`].
    pub fn open(&mut self, tag: &'static str, attrs: &[(&str, &str)]) -> &mut Self {
        self.start(tag, attrs);
        self.out.push('>');
        self.open.push(tag);
        self
    }

    pub fn close(&mut self) -> &mut Self {
        let tag = self.open.pop().expect("a close for every open");
        let _ = write!(self.out, "</{tag}>");
        self
    }

    /// `<tag attrs/>`
    pub fn empty(&mut self, tag: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.start(tag, attrs);
        self.out.push_str("/>");
        self
    }

    /// `<tag attrs>text</tag>`
    pub fn text(&mut self, tag: &str, attrs: &[(&str, &str)], text: &str) -> &mut Self {
        self.start(tag, attrs);
        self.out.push('>');
        self.out.push_str(&escape(text));
        let _ = write!(self.out, "</{tag}>");
        self
    }

    pub fn finish(self) -> String {
        assert!(self.open.is_empty(), "unclosed: {:?}", self.open);
        self.out
    }
}

impl Default for Xml {
    fn default() -> Self {
        Xml::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaped_text_is_always_xml() {
        assert_eq!(super::escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
        assert_eq!(super::escape("caries\u{FFFE}\u{FFFF}\u{1}\tok\n"), "caries\tok\n", "characters XML cannot hold are dropped");
    }
}
