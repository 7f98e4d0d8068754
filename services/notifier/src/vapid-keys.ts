// Prints a new VAPID key pair as env lines (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY): scripts/dev.sh
// makes one per checkout; operators make one per deployment and keep the private key secret.
import webpush from 'web-push';

const keys = webpush.generateVAPIDKeys();
process.stdout.write(`VAPID_PUBLIC_KEY=${keys.publicKey}\nVAPID_PRIVATE_KEY=${keys.privateKey}\n`);
