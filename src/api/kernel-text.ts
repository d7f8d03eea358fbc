/** Text for kernel results (the CLI imports the API only). */
export { describeDropped } from '../kernel/config.js';
