/** What a conversation depends on and what it keeps per reply (see conversation.ts). */
import type { Clock, Timer } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/log.js';
import type { ActorSystem } from '../../runtime/system.js';
import type { DialogueSettings } from '../../config/dialogue.js';
import type { IntentMatcher } from '../dialogue/intents.js';
import type { DeviceMemory } from '../dialogue/memory.js';
import type { DeviceProfile, Role } from '../dialogue/roles.js';
import type { Pacer } from '../pacer/pacer.js';
import type { QuickReplies, QuickReplyKey } from '../speak/quick-replies.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { DeviceFacts } from '../dialogue/prompt.js';
import type { CrewSettings } from './crew.js';
import type { DeviceEvent, DeviceView } from './device-state.js';
import type { DeviceLink } from './link.js';
import type { TurnRecord } from './messages.js';

export interface ConversationDeps {
  sessionId: string;
  self: string;
  link: DeviceLink;
  log: Logger;
  system: ActorSystem;
  pacer: Pacer;
  clock: Clock;
  crew: CrewSettings;
  startGapMs: number;
  deviceId: string;
  /** Cache of fixed phrases' encoded audio; `key` holds the provider and downlink format. */
  quick: { cache: QuickReplies; key: Omit<QuickReplyKey, 'voice' | 'text'> } | undefined;
  /** The session's tools, built on first use. */
  tools(): ToolRegistry;
  /** What is known about the device for the prompt; refreshed in the background, never awaited. */
  device?: { facts(): DeviceFacts | undefined; refresh(): void; invalidate(): void } | undefined;
  dialogue: DialogueDeps;
  view(): DeviceView;
  apply(ev: DeviceEvent): void;
}

/** The dialogue policy a conversation follows (actors/dialogue), shared by all sessions. */
export interface DialogueDeps {
  settings: DialogueSettings;
  roles: ReadonlyMap<string, Role>;
  profile: DeviceProfile;
  memory: DeviceMemory | undefined;
  intents: IntentMatcher;
  /**
   * Whether the device may talk: bound (or activation off), or not — then `text` is its code to
   * speak, at most once a minute (undefined in between).
   */
  activation(): Promise<{ bound: true } | { bound: false; text: string | undefined }>;
}

export interface Reply {
  /** Close the session once this reply has played (exit phrase, end_conversation, idle farewell). */
  closeAfter: boolean;
  turn: number;
  record: TurnRecord;
  /** Sentences announced by the think actor, by index. */
  texts: Map<number, string>;
  /** Sentence indices whose first frames arrived. */
  started: Set<number>;
  /** Sentence indices whose subtitle went into the pacer. */
  shown: Set<number>;
  /** Sentence indices whose subtitle (with its first frame) reached the device: what was heard. */
  heard: Set<number>;
  /** Sentence indices whose last frames arrived. */
  finished: Set<number>;
  sentences: number | undefined;
  emotionSent: boolean;
  ended: boolean;
  stopTimer: Timer | undefined;
  spoken: string[];
  /** A track the model chose (play_music): it plays as one more sentence once the words are done. */
  track?: { path: string; title: string; maxSeconds: number };
  /** Frames of a fixed phrase being synthesized, kept for the quick-reply cache. */
  capture?: { key: QuickReplyKey; frames: Uint8Array[] };
}

