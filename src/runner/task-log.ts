/**
 * Where a step's log lines go. A listr2 task's output may only be written
 * while the task runs: listr2's interactive renderer throws on a line written
 * into a task that has finished. Yet a step's logger outlives its task — a
 * teardown release deferred by a step logs through the logger it captured
 * (`removed /tmp/umlbuild-tree-…`), after the run or during a later step.
 *
 * So every task gets its logger from here. While its task runs it writes into
 * it; once closed it forwards to the runner's own output: the task that runs
 * now, or, outside any task, the runner's sink. No path writes into a
 * finished task.
 */
export type LogLine = (line: string) => void;

export interface TaskLog {
  readonly log: LogLine;
  /** The task finished (or failed): from now on its lines go to the runner. */
  close(): void;
}

export class TaskLogs {
  private running?: LogLine;

  /** `sink` takes the lines logged while no task runs (teardown after the run). */
  constructor(private readonly sink: LogLine) {}

  /** The runner's own output: the running task's logger, else the sink. */
  readonly log: LogLine = (line) => (this.running ?? this.sink)(line);

  /** A logger for a task that starts now; `write` puts a line into that task. */
  open(write: LogLine): TaskLog {
    let open = true;
    const log: LogLine = (line) => (open ? write(line) : this.log(line));
    this.running = log;
    return {
      log,
      close: () => {
        open = false;
        if (this.running === log) this.running = undefined;
      },
    };
  }
}
