/** Who may run which chat command, pure: users and channels per command class. */
import type { ChatAccessRefusal } from './reasons/chat.ts';
import type { CommandClass } from './chat-command.ts';

// ---------------------------------------------------------------------------------------------
// Authorisation

/** Who may run what. `users: '*'` (read only) = everyone in the workspace; `channels: null` = any channel. */
export interface ChatAccessPolicy {
  read: { users: readonly string[] | '*'; channels: readonly string[] | null };
  deploy: { users: readonly string[]; channels: readonly string[] | null };
}

export type Authorisation = { allowed: true } | { allowed: false; reason: ChatAccessRefusal; message: string };

/**
 * Deploy users may also read. Channel lists, when set, restrict where a class may be used (a
 * deploy-allowed channel also allows reading). Refusals are polite and say what to do next.
 */
export function authorise(policy: ChatAccessPolicy, who: { userId: string; channelId: string }, cls: CommandClass): Authorisation {
  if (cls === 'public') return { allowed: true };
  const deployUser = policy.deploy.users.includes(who.userId);
  if (cls === 'deploy') {
    if (!deployUser) {
      return {
        allowed: false,
        reason: 'USER_NOT_ALLOWED',
        message: `Sorry <@${who.userId}>, you are not on ferry's list of people who may deploy or roll back. Ask a ferry admin to add your Slack user id (\`${who.userId}\`) to FERRY_SLACK_DEPLOY_USERS; read-only commands (\`status\`, \`versions\`) may still work for you.`,
      };
    }
    const chans = policy.deploy.channels;
    if (chans !== null && !chans.includes(who.channelId)) {
      return {
        allowed: false,
        reason: 'CHANNEL_NOT_ALLOWED',
        message: `Sorry, deploys and rollbacks are only taken in ${channelList(chans)}. Please run the command there.`,
      };
    }
    return { allowed: true };
  }
  const readUser = policy.read.users === '*' || policy.read.users.includes(who.userId) || deployUser;
  if (!readUser) {
    return {
      allowed: false,
      reason: 'USER_NOT_ALLOWED',
      message: `Sorry <@${who.userId}>, you are not on ferry's list of people who may use it. Ask a ferry admin to add your Slack user id (\`${who.userId}\`) to FERRY_SLACK_READ_USERS.`,
    };
  }
  const chans = policy.read.channels === null ? null : [...policy.read.channels, ...(policy.deploy.channels ?? [])];
  if (chans !== null && !chans.includes(who.channelId)) {
    return { allowed: false, reason: 'CHANNEL_NOT_ALLOWED', message: `Sorry, ferry answers in ${channelList(chans)} only. Please run the command there.` };
  }
  return { allowed: true };
}

const channelList = (ids: readonly string[]): string => (ids.length ? ids.map((c) => `<#${c}>`).join(', ') : 'no channel (none is configured)');
