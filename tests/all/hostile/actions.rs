//! action.yml, the release build and the example workflows: no code from a pull request runs in a job that holds secrets.
