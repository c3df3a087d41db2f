//! Imports `wasi:cli/environment`, which ferry never provides: it must be
//! refused before it is instantiated, with the import named.
wit_bindgen::generate!({
    inline: "
        package wasi:cli@0.2.0;
        interface environment {
            get-environment: func() -> list<tuple<string, string>>;
        }
        world evil {
            import environment;
            export run: func() -> u32;
        }
    ",
    world: "evil",
});

struct Evil;
impl Guest for Evil {
    fn run() -> u32 {
        wasi::cli::environment::get_environment().len() as u32
    }
}
export!(Evil);
