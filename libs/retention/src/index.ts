export {
  RETENTION_BATCH,
  retentionJobs,
  runDueJobs,
  semanticCacheRetentionJob,
  type JobOutcome,
  type MaintenanceJob,
  type RetentionSettings,
} from './maintenance-jobs.js';
