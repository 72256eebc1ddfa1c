export { DpsEmulator, type DpsOptions, type DpsEvents, type AssignableHub } from './dps-emulator.js';
export { DpsFaults } from './dps-faults.js';
export { EnrollmentStore, deriveDeviceKey, type IndividualEnrollment, type GroupEnrollment, type Attestation } from './enrollments.js';
export { RegistrationStore, type RegistrationRecord } from './registrations.js';
