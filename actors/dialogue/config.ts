// The dialogue and tools sections live with the rest of the schema in config/ (its single source
// of truth); re-exported here for the dialogue modules.
export * from '../../config/dialogue.js';
