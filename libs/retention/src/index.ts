export {
  RETENTION_BATCH,
  retentionJobs,
  runDueJobs,
  type JobOutcome,
  type MaintenanceJob,
  type RetentionSettings,
} from './maintenance-jobs.js';
