// Package-time resolver for serverless.yml: the IAM condition that limits
// ssm:SendCommand to instances carrying the enrollment tag. It is built here
// because the condition key embeds the tag key (`ssm:resourceTag/<tagKey>`) and
// neither serverless variables nor CloudFormation intrinsics work in map keys.
'use strict';

// EC2 tag keys: up to 128 characters of letters, digits, spaces and _ . : / = + - @.
const TAG_KEY = /^[\w .:/=+\-@]{1,128}$/;

module.exports = async ({ resolveVariable }) => {
  const tagKey = String(await resolveVariable('param:tagKey'));
  const tagValue = String(await resolveVariable('param:tagValue'));
  if (!TAG_KEY.test(tagKey) || !TAG_KEY.test(tagValue)) {
    throw new Error(
      `params tagKey ${JSON.stringify(tagKey)} / tagValue ${JSON.stringify(tagValue)} are not allowed: ` +
        'EC2 tag keys and values of 1-128 letters, digits, spaces and _ . : / = + - @',
    );
  }
  return { StringEquals: { [`ssm:resourceTag/${tagKey}`]: tagValue } };
};
