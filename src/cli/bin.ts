import { main } from './main.js';

// Until main() settles: a run whose event loop empties while it still waits on something (a client
// library that dropped a request) must not look like a success to the deploy pipeline.
process.exitCode = 1;
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`knex-zd: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
