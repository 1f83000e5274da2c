//! Where the edges tell the person at the terminal what is happening (a URL to open, a
//! code to type). io says it; app decides where it goes (`app::Reporter`), so io never
//! depends on app.

pub trait Progress {
    /// One line for the user.
    fn say(&mut self, line: &str);
}
