/**
 * Ask a person for a password on the terminal without echo: stdin in raw
 * mode (the terminal echoes nothing, and umlbuild prints nothing of what is
 * typed), the prompt on stderr. Enter ends it, Backspace erases, Ctrl-C and
 * Ctrl-D give up. Only when stdin is a terminal: a pipe is never read for a
 * secret it was not told to carry.
 */
import { InterruptedError, UserError, EXIT } from '../errors.js';

export const canAsk = (): boolean => Boolean(process.stdin.isTTY);

export function askPassword(prompt: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string> {
  return new Promise((resolve, reject) => {
    let typed = '';
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    input.resume();
    output.write(prompt);
    const done = (err: Error | undefined) => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(undefined);
        if (ch === '\u0003') return done(new InterruptedError('SIGINT'));
        if (ch === '\u0004') return done(new UserError('no password given (end of input)', EXIT.invalid));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else if (ch >= ' ') typed += ch;
      }
    };
    input.on('data', onData);
  });
}
