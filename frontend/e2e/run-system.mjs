// For working on the dashboard by hand: starts the real system on a
// throwaway database and virtual host (as the end-to-end tests do), prints
// its address, and cleans up on Ctrl-C. `npm run dev` proxies /api to it
// when API_URL is set to that address.
import { startSystem } from './system.mjs';

const sys = await startSystem({ echo: true });
console.log(`dashboard: ${sys.baseURL}/   admin token: ${sys.adminToken}`);
const quit = async () => {
  await sys.stop();
  process.exit(0);
};
process.on('SIGINT', quit);
process.on('SIGTERM', quit);
